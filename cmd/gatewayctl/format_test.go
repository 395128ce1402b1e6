package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/fleet/fleettest"
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

// The canary's block of gatewayctl status, whole: with the [canary] judge
// and with an admin deciding.
func TestWriteStatusCanary(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 3, 14, 0, time.UTC)
	active := fleet.Generation{ID: 4, State: fleet.Active, Revision: "2026-11-20", Unit: "gateway-gen4.scope", PIDs: []int{1234},
		Usage: fleet.Usage{Sessions: 12}, Started: now.Add(-3 * time.Hour)}
	canary := fleet.Generation{ID: 5, State: fleet.Canary, Revision: "2026-11-21", Unit: "gateway-gen5.scope", PIDs: []int{1300},
		Usage: fleet.Usage{Sessions: 2}, Started: now.Add(-(3*time.Minute + 14*time.Second))}
	head := "notes: gateway 1.4.0, org.gatewayd.Gateway1 on the system bus\n" +
		"   Active: generation 4 (revision 2026-11-20) since " + clock(active.Started) + "; up 3h\n" +
		"           gateway-gen4.scope, pids 1234; 12 sessions, 0 in flight, 0 upgraded\n" +
		" Sessions: 14 pinned\n" +
		"   Canary: generation 5 (revision 2026-11-21) since " + clock(canary.Started) + "; 3m14s ago\n" +
		"           gateway-gen5.scope, pids 1300; 2 sessions, 0 in flight, 0 upgraded\n" +
		"           10% of new sessions, on trial for 3m12s\n" +
		"           canary 250 requests, 5xx 0.40%, p99 40ms · active 2400 requests, 5xx 0.08%, p99 36ms\n"
	judged := fleettest.JudgedTrial(now.Add(-(3*time.Minute + 12*time.Second)), now)
	admin := *judged
	admin.Judge, admin.Verdict = nil, ""
	for _, c := range []struct {
		name  string
		trial *fleet.Trial
		want  string
	}{
		{"judged", judged, head +
			"           judged by [canary]: aborted at 5xx > active + 1 point or p99 > active + 50% (at least 10ms), once it has 200 requests; promoted after 30m\n" +
			"           verdict: within the margins so far: 5xx 0.40% against 0.08%, p99 40ms against 36ms over 250 and 2400 answers\n"},
		{"by an admin", &admin, head +
			"           judged by an admin (no [canary] judge): gatewayctl promote or gatewayctl abort\n"},
		// A gateway older than GetTrial: the canary as it was shown before.
		{"no trial", nil, strings.Split(head, "           10%")[0]},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := canary
			g.Trial = c.trial
			var b strings.Builder
			if err := writeStatus(&b, "org.gatewayd.Gateway1 on the system bus", dbusapi.Properties{App: "notes", Version: "1.4.0"},
				[]fleet.Generation{active, g}, now); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
