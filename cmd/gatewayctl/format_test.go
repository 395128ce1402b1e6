package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

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
