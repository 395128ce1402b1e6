package config

import (
	"math"
	"strings"
	"testing"
)

func TestMemoryMaxBytes(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"", 0, false},
		{"512", 512, true},
		{"1K", 1024, true},
		{"512M", 512 << 20, true},
		{"2G", 2 << 30, true},
		{"3T", 3 << 40, true},
		{"16777215T", 16777215 << 40, true},
		{"infinity", math.MaxUint64, true},
		// Not valid (Validate reports them): no limit.
		{"0", 0, false},
		{"512m", 0, false},
		{"512 M", 0, false},
		{"1.5G", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"K", 0, false},
		{"Infinity", 0, false},
		{"16777216T", 0, false},
		{"18446744073709551616", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Systemd{MemoryMax: tt.in}.MemoryMaxBytes()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %d, %t; want %d, %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCPUQuotaPerSecUSec(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"", 0, false},
		{"150%", 1500000, true},
		{"100%", 1000000, true},
		{"1%", 10000, true},
		{"12.5%", 125000, true},
		{"0.25%", 2500, true},
		{"400%", 4000000, true},
		{"1844674407370954.99%", 18446744073709549900, true}, // the largest
		// Not valid (Validate reports them): no limit.
		{"0%", 0, false},
		{"0.00%", 0, false},
		{"150", 0, false},
		{"1.5", 0, false},
		{"%", 0, false},
		{"-50%", 0, false},
		{"50 %", 0, false},
		{".5%", 0, false},
		{"5.%", 0, false},
		{"0.125%", 0, false},
		{"99999999999999999999%", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Systemd{CPUQuota: tt.in}.CPUQuotaPerSecUSec()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %d, %t; want %d, %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestParseSystemd(t *testing.T) {
	doc := app + "[systemd]\nmanager = \"user\"\nslice = \"gateway-notes.slice\"\n" +
		"memory_max = \"2G\"\ncpu_quota = \"150%\"\ntasks_max = 512\n"
	c, err := Parse([]byte(doc), "notes.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Systemd{Manager: "user", Slice: "gateway-notes.slice", MemoryMax: "2G", CPUQuota: "150%", TasksMax: 512}
	if c.Systemd != want {
		t.Errorf("got %+v, want %+v", c.Systemd, want)
	}
	if n, ok := c.Systemd.MemoryMaxBytes(); n != 2<<30 || !ok {
		t.Errorf("MemoryMaxBytes: got %d, %t; want %d, true", n, ok, 2<<30)
	}
	if n, ok := c.Systemd.CPUQuotaPerSecUSec(); n != 1500000 || !ok {
		t.Errorf("CPUQuotaPerSecUSec: got %d, %t; want 1500000, true", n, ok)
	}
}

func TestValidateSystemd(t *testing.T) {
	const notValid = ` is not a valid slice name (letters, digits and any of :-_.\ before ".slice")`
	const dashes = ` is not a valid slice name ("-" separates nested slices: it cannot come first, last or twice in a row)`
	long := strings.Repeat("a", 249) + ".slice" // 255 characters
	tests := []struct {
		name   string
		change func(s *Systemd)
		want   string // "" for no error
	}{
		{"defaults", func(s *Systemd) {}, ""},
		{"all set", func(s *Systemd) {
			*s = Systemd{Manager: "system", Slice: "gateway.slice", MemoryMax: "infinity", CPUQuota: "50%", TasksMax: 100}
		}, ""},
		{"user manager", func(s *Systemd) { s.Manager = "user" }, ""},
		{"manager", func(s *Systemd) { s.Manager = "" },
			`systemd.manager: "" is not valid, want "auto", "system" or "user"`},
		{"nested slice", func(s *Systemd) { s.Slice = "gateway-notes.slice" }, ""},
		{"slice punctuation", func(s *Systemd) { s.Slice = `a:b_c.d\x2d.slice` }, ""},
		{"root slice", func(s *Systemd) { s.Slice = "-.slice" }, ""},
		{"longest slice", func(s *Systemd) { s.Slice = long }, ""},
		{"slice too long", func(s *Systemd) { s.Slice = "a" + long },
			`systemd.slice: "a` + long + `" is longer than 255 characters`},
		{"slice suffix", func(s *Systemd) { s.Slice = "gateway" },
			`systemd.slice: "gateway" must end in ".slice"`},
		{"scope for a slice", func(s *Systemd) { s.Slice = "gateway.scope" },
			`systemd.slice: "gateway.scope" must end in ".slice"`},
		{"bare .slice", func(s *Systemd) { s.Slice = ".slice" }, `systemd.slice: ".slice"` + notValid},
		{"template slice", func(s *Systemd) { s.Slice = "a@b.slice" }, `systemd.slice: "a@b.slice"` + notValid},
		{"slash in slice", func(s *Systemd) { s.Slice = "a/b.slice" }, `systemd.slice: "a/b.slice"` + notValid},
		{"non-ASCII slice", func(s *Systemd) { s.Slice = "é.slice" }, `systemd.slice: "é.slice"` + notValid},
		{"leading dash", func(s *Systemd) { s.Slice = "-a.slice" }, `systemd.slice: "-a.slice"` + dashes},
		{"trailing dash", func(s *Systemd) { s.Slice = "a-.slice" }, `systemd.slice: "a-.slice"` + dashes},
		{"double dash", func(s *Systemd) { s.Slice = "a--b.slice" }, `systemd.slice: "a--b.slice"` + dashes},
		{"memory_max", func(s *Systemd) { s.MemoryMax = "512MB" },
			`systemd.memory_max: "512MB" is not a size (use bytes or a K, M, G or T suffix, e.g. "512M", or "infinity")`},
		{"memory_max lower case", func(s *Systemd) { s.MemoryMax = "1g" },
			`systemd.memory_max: "1g" is not a size (use bytes or a K, M, G or T suffix, e.g. "512M", or "infinity")`},
		{"memory_max zero", func(s *Systemd) { s.MemoryMax = "0K" },
			`systemd.memory_max: "0K" is not above zero ("" for no limit)`},
		{"memory_max too large", func(s *Systemd) { s.MemoryMax = "16777216T" },
			`systemd.memory_max: "16777216T" is too large, want less than 16 EiB, or "infinity"`},
		{"cpu_quota", func(s *Systemd) { s.CPUQuota = "1.5" },
			`systemd.cpu_quota: "1.5" is not a percentage (e.g. "150%")`},
		{"cpu_quota three decimals", func(s *Systemd) { s.CPUQuota = "1.125%" },
			`systemd.cpu_quota: "1.125%" is not a percentage (e.g. "150%")`},
		{"cpu_quota zero", func(s *Systemd) { s.CPUQuota = "0%" },
			`systemd.cpu_quota: "0%" is not above zero ("" for no limit)`},
		{"cpu_quota too large", func(s *Systemd) { s.CPUQuota = "1844674407370955%" },
			`systemd.cpu_quota: "1844674407370955%" is too large`},
		{"tasks_max", func(s *Systemd) { s.TasksMax = -1 },
			"systemd.tasks_max: -1 is negative, want zero or more (0 for no limit)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c.Systemd)
			got := ""
			if err := c.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
