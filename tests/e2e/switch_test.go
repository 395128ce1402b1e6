package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// sessions.switch_path: a user on a detached generation opts in to the
// new revision. The gateway answers the path itself, forgets the session's
// pin and affinity cookie, and redirects back; the app's session cookie
// stays, the new generation does not know it (the login page), and the old
// generation, left without sessions, retires.
func TestSwitchPathMovesUserToNewRevision(t *testing.T) {
	const switchPath = "/.gateway/switch"
	g := startGateway(t, options{switchPath: switchPath})
	a := g.browser()
	if w := a.Login("alice"); w.Generation != "1" {
		t.Fatalf("alice before the upgrade: got %+v, want generation 1", w)
	}
	a.Post("/notes", url.Values{"note": {"remember the milk"}})
	pid1 := a.Who().PID

	g.point("rel2")
	if msg := g.upgrade(); msg != "" {
		t.Fatalf("upgrade failed: %s", msg)
	}
	if w := a.Who(); w.Generation != "1" || w.User != "alice" || w.Notes != 1 {
		t.Fatalf("alice after the upgrade: got %+v, want her session on generation 1", w)
	}
	sid := a.Cookie("SID")
	if a.Cookie("GATEWAY_AFFINITY") == "" {
		t.Fatal("alice has no affinity cookie before the switch")
	}

	resp, err := a.HTTP.Get(g.url + switchPath + "?return=" + url.QueryEscape("/?from=switch"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != "/?from=switch" {
		t.Fatalf("GET %s: got %d Location %q, want 303 to /?from=switch", switchPath, resp.StatusCode, loc)
	}
	if c := a.Cookie("GATEWAY_AFFINITY"); c != "" {
		t.Errorf("affinity cookie after the switch: got %q, want it expired", c)
	}
	if c := a.Cookie("SID"); c != sid {
		t.Errorf("session cookie after the switch: got %q, want the app's cookie left alone", c)
	}

	// Where the redirect leads: the new revision's login page.
	resp, err = a.HTTP.Get(g.url + loc)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "generation <b>2</b>") ||
		!strings.Contains(string(page), `placeholder="your name"`) || strings.Contains(string(page), "Logged in as") {
		t.Fatalf("GET %s after the switch: got %d, want generation 2's login page:\n%s", loc, resp.StatusCode, page)
	}
	for range 20 {
		if w := a.Who(); w.Revision != "rel2" || w.Generation != "2" || w.Session {
			t.Fatalf("alice after the switch: got %+v, want rel2 on generation 2 without a session", w)
		}
	}

	g.waitLog(`msg="session switched to the active generation" component=proxy`, 1, 5*time.Second)
	if line := g.log.last(`msg="session switched`); !strings.Contains(line, "from_generation=1 generation=2") {
		t.Errorf("switch log line: got %q, want from_generation=1 generation=2", line)
	}
	if strings.Contains(g.log.String(), sid) {
		t.Error("the gateway logged the raw session id")
	}
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 5*time.Second)
	if !gwtest.Poll(time.Second, func() bool { return !gwtest.PIDAlive(pid1) }) {
		t.Fatalf("generation 1's worker (pid %d) still runs after it retired", pid1)
	}
	if w := a.Login("alice"); w.Revision != "rel2" || w.Generation != "2" || w.Notes != 0 {
		t.Fatalf("alice logging in again: got %+v, want a new session on generation 2", w)
	}
	// The state file is written (and synced) just after the log line.
	if !gwtest.Poll(5*time.Second, func() bool { got := g.generations(); return len(got) == 1 && got[2] == "active" }) {
		t.Fatalf("generations in the state file: got %v, want only 2 active", g.generations())
	}
}
