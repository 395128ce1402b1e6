package e2e

import (
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// A canary for 10 % of new sessions, started from the console: of 2,000
// new logins, the canary gets a share within a binomial tolerance, the
// sessions already there stay on the active generation, and a promotion
// sends every new session to the canary.
func TestCanaryShareAndPromote(t *testing.T) {
	g := startGateway(t, options{admin: true})
	ada := g.browser()
	ada.Login("ada")
	g.point("rel2")
	if flash := consoleAction(t, g.admin, "canary", url.Values{"percent": {"10"}}); !strings.Contains(flash, "generation 2 is the canary: 10% of new sessions") {
		t.Fatalf("console canary: flash %q", flash)
	}
	const n, p = 2000, 0.1
	onCanary := 0
	for _, s := range gwtestLogins(t, g.url, n) {
		if s == "2" {
			onCanary++
		}
	}
	// 4.5 standard deviations: a false failure once in ~150,000 runs.
	mean, sd := n*p, math.Sqrt(n*p*(1-p))
	if d := math.Abs(float64(onCanary) - mean); d > 4.5*sd {
		t.Errorf("%d of %d new sessions on the canary, want %.0f ± %.0f", onCanary, n, mean, 4.5*sd)
	}
	t.Logf("%d of %d new sessions on the canary (expected %.0f)", onCanary, n, mean)
	if w := ada.Who(); w.Generation != "1" {
		t.Errorf("ada, logged in before the canary: %+v, want generation 1", w)
	}

	if flash := consoleAction(t, g.admin, "promote", nil); !strings.Contains(flash, "promoted: generation 2 is active") {
		t.Fatalf("console promote: flash %q", flash)
	}
	for _, s := range gwtestLogins(t, g.url, 50) {
		if s != "2" {
			t.Fatalf("a new session after the promotion went to generation %s, want 2", s)
		}
	}
	if gens := g.generations(); gens[1] != "detached" || gens[2] != "active" {
		t.Errorf("generations after the promotion: %v, want 1 detached, 2 active", gens)
	}
}

// An aborted canary gets no new sessions and drains; with its sessions
// ended it retires at once.
func TestCanaryAbort(t *testing.T) {
	g := startGateway(t, options{admin: true})
	g.point("rel2")
	consoleAction(t, g.admin, "canary", url.Values{"percent": {"100"}})
	tester := g.browser()
	if w := tester.Login("tess"); w.Generation != "2" {
		t.Fatalf("a login with a 100%% canary went to generation %s", w.Generation)
	}
	if flash := consoleAction(t, g.admin, "abort", url.Values{"move_sessions": {"true"}}); !strings.Contains(flash, "canary generation 2 aborted") {
		t.Fatalf("console abort: flash %q", flash)
	}
	for _, s := range gwtestLogins(t, g.url, 50) {
		if s != "1" {
			t.Fatalf("a new session after the abort went to generation %s, want 1", s)
		}
	}
	g.waitLog(`msg="generation retired" component=supervisor generation=2`, 1, 10*time.Second)
}

// gwtestLogins logs n users in and returns the generation of each.
func gwtestLogins(t *testing.T, base string, n int) []string {
	t.Helper()
	var out []string
	for _, s := range gwtest.Logins(t, base, "canary-user-", n) {
		out = append(out, s.Who.Generation)
	}
	return out
}
