package config

import (
	"testing"
	"time"
)

func TestDurationText(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		text string
	}{
		{"90s", 90 * time.Second, "1m30s"},
		{"5m", 5 * time.Minute, "5m"},
		{"8h", 8 * time.Hour, "8h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"100ms", 100 * time.Millisecond, "100ms"},
		{"0", 0, "0s"},
		{"-1m", -time.Minute, "-1m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			if err := d.UnmarshalText([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if d.Duration != tt.want {
				t.Errorf("got %q, want %q", d.Duration, tt.want)
			}
			text, _ := d.MarshalText()
			if string(text) != tt.text {
				t.Errorf("got %q, want %q", text, tt.text)
			}
		})
	}
}

func TestDurationBad(t *testing.T) {
	for _, in := range []string{"", "5 minutes", "1d", "10"} {
		t.Run(in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(in))
			want := `"` + in + `" is not a duration (use Go syntax: "90s", "5m", "8h")`
			if err == nil || err.Error() != want {
				t.Errorf("got %v, want %q", err, want)
			}
		})
	}
}
