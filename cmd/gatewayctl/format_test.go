package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSpan(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{900 * time.Millisecond, "0s"},
		{45 * time.Second, "45s"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{5 * time.Minute, "5m"},
		{7*time.Hour + 59*time.Minute + 59*time.Second, "7h59m"},
		{time.Hour + 30*time.Second, "1h"},
		{51*time.Hour + 10*time.Minute, "2d3h"},
		{48 * time.Hour, "2d"},
		{-90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		if got := span(tt.d); got != tt.want {
			t.Errorf("span(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 11, 20, 13, 16, 17, 0, time.UTC)
	tests := []struct {
		t    time.Time
		want string
	}{
		{now.Add(-(3*time.Minute + 12*time.Second)), "3m12s ago"},
		{now.Add(7*time.Hour + 59*time.Minute + 30*time.Second), "in 7h59m"},
		{now.Add(-300 * time.Millisecond), "now"},
		{now, "now"},
	}
	for _, tt := range tests {
		if got := relative(tt.t, now); got != tt.want {
			t.Errorf("relative(%v): got %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--user", "status"}, []string{"status"}},
		{[]string{"status", "--json", "--user"}, []string{"status"}},
		{[]string{"retire", "3", "--force"}, []string{"retire", "3"}},
		{[]string{"--instance", "blue", "retire", "--force", "3"}, []string{"retire", "3"}},
		{[]string{"detach", "--", "--json"}, []string{"detach", "--json"}},
	}
	for _, tt := range tests {
		fs, _ := newFlags()
		got, err := parseArgs(fs, tt.args)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseArgs(%q): got %q, %v; want %q", strings.Join(tt.args, " "), got, err, tt.want)
		}
	}
}

// --timeout: a default bound for commands that answer at once, none for
// those that wait for a readiness check, and an explicit 0 is no limit.
func TestLimit(t *testing.T) {
	tests := []struct {
		args []string
		want time.Duration
	}{
		{[]string{"status"}, defaultTimeout},
		{[]string{"retire", "3"}, defaultTimeout},
		{[]string{"upgrade"}, 0},
		{[]string{"detach", "4"}, 0},
		{[]string{"upgrade", "--timeout", "10m"}, 10 * time.Minute},
		{[]string{"status", "--timeout", "0"}, 0},
	}
	for _, tt := range tests {
		fs, o := newFlags()
		pos, err := parseArgs(fs, tt.args)
		if err != nil {
			t.Fatal(err)
		}
		cmd := lookup(pos[0])
		if err := o.check(fs, cmd); err != nil {
			t.Fatal(err)
		}
		if got := o.limit(cmd); got != tt.want {
			t.Errorf("%q: got %v, want %v", strings.Join(tt.args, " "), got, tt.want)
		}
	}
}
