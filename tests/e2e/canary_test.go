package e2e

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
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

// judgedCanary is the [canary] table of the judged tests: judged after
// 100 answers, 5xx within one percentage point of the active generation's.
const judgedCanary = "\n[canary]\njudge = true\nmin_requests = 100\nerror_margin = \"1%\"\nlatency_margin = \"100%\"\nlatency_margin_min = \"1s\"\n"

// A release that answers 500 on one path, tried as a judged canary for
// half of the new sessions, is aborted by itself once it has answered
// min_requests: the log gives the figures, new sessions go to the active
// generation again, and those of the canary stay with it.
func TestCanaryJudgeAborts(t *testing.T) {
	g := startGateway(t, options{admin: true, extra: judgedCanary})
	g.release("rel2", `exec "`+bin.Notes+`" "$@" -fail /report`)
	g.point("rel2")
	consoleAction(t, g.admin, "canary", url.Values{"percent": {"50"}})
	tr := trialOf(t, g.admin)
	if tr == nil || tr.Judge == nil || tr.Judge.MinRequests != 100 || tr.Share != 0.5 {
		t.Fatalf("the canary's trial in /api/status: %+v", tr)
	}

	sessions := gwtest.Logins(t, g.url, "judged-", 200)
	onCanary := 0
	for _, s := range sessions {
		status := visit(t, g.url, s.SID, "/report")
		switch {
		case s.Who.Generation == "2" && status != 500, s.Who.Generation == "1" && status != 404:
			t.Fatalf("GET /report on generation %s: %d", s.Who.Generation, status)
		case s.Who.Generation == "2":
			onCanary++
		}
		if g.log.count(`event=canary-aborted`) > 0 {
			break
		}
	}
	g.waitLog(`event=canary-aborted reason="5xx rate`, 1, 10*time.Second)
	line := g.log.last(`event=canary-aborted`)
	for _, want := range []string{"by=judge", "canary_requests=", "canary_errors=", "active_requests=", "active_error_rate=0 "} {
		if !strings.Contains(line, want) {
			t.Errorf("the abort's log line has no %q: %s", want, line)
		}
	}
	t.Logf("aborted after %d canary sessions: %s", onCanary, line)
	if gens := g.generations(); gens[1] != "active" || gens[2] != "detached" {
		t.Errorf("generations after the abort: %v, want 1 active, 2 detached", gens)
	}
	for _, s := range gwtestLogins(t, g.url, 50) {
		if s != "1" {
			t.Fatalf("a new session after the abort went to generation %s, want 1", s)
		}
	}
	for _, s := range sessions {
		if s.Who.Generation == "2" {
			if w := gwtest.WhoWithSIDOnly(t, g.url, s.SID); w.Generation != "2" {
				t.Errorf("a canary session after the abort is on generation %s, want 2 (it keeps its pin)", w.Generation)
			}
			break
		}
	}
}

// A judged canary that answers as well as the active generation is
// promoted by itself after promote_after, with the figures logged.
func TestCanaryJudgePromotes(t *testing.T) {
	g := startGateway(t, options{admin: true, extra: judgedCanary + "promote_after = \"2s\"\n"})
	g.point("rel2")
	consoleAction(t, g.admin, "canary", url.Values{"percent": {"50"}})
	if tr := trialOf(t, g.admin); tr == nil || tr.Judge == nil || tr.Judge.PromoteAfter != 2*time.Second {
		t.Fatalf("the canary's trial in /api/status: %+v", tr)
	}
	for _, s := range gwtest.Logins(t, g.url, "healthy-", 300) {
		if status := visit(t, g.url, s.SID, "/report"); status != 404 {
			t.Fatalf("GET /report on generation %s: %d", s.Who.Generation, status)
		}
	}
	g.waitLog(`msg="canary promoted: generation active" component=supervisor generation=2`, 1, 10*time.Second)
	line := g.log.last(`msg="canary promoted`)
	for _, want := range []string{`reason="within the margins for 2s: 5xx 0.00% against 0.00%`, "by=judge", "canary_requests=", "on_trial=2."} {
		if !strings.Contains(line, want) {
			t.Errorf("the promotion's log line has no %q: %s", want, line)
		}
	}
	if gens := g.generations(); gens[1] != "detached" || gens[2] != "active" {
		t.Errorf("generations after the promotion: %v, want 1 detached, 2 active", gens)
	}
}

// visit gets path with a session's cookie and returns the status.
func visit(t *testing.T, base, sid, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.AddCookie(&http.Cookie{Name: "SID", Value: sid})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// trialOf is the canary's trial in the console's /api/status; nil with no
// canary.
func trialOf(t *testing.T, console string) *fleet.Trial {
	t.Helper()
	resp, err := http.Get(console + "api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st fleet.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, g := range st.Generations {
		if g.Trial != nil {
			return g.Trial
		}
	}
	return nil
}
