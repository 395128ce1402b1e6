package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// The walkthrough of the README: a session stays on the revision it started
// on; a new one gets the new revision; logging off moves a user over and
// retires the old generation.
func TestSessionStaysOnItsGenerationAcrossUpgrade(t *testing.T) {
	g := startGateway(t, options{instances: 2})
	a := g.browser()
	if w := a.Login("alice"); w.Revision != "rel1" || w.Generation != "1" {
		t.Fatalf("alice before the upgrade: got %+v, want rel1 on generation 1", w)
	}
	a.Post("/notes", url.Values{"note": {"remember the milk"}})
	pidA := a.Who().PID

	g.point("rel2")
	if msg := g.upgrade(); msg != "" {
		t.Fatalf("upgrade failed: %s", msg)
	}
	b := g.browser()
	if w := b.Login("bob"); w.Revision != "rel2" || w.Generation != "2" {
		t.Fatalf("bob after the upgrade: got %+v, want rel2 on generation 2", w)
	}
	for i := range 200 {
		w := a.Who()
		if w.PID != pidA || w.Revision != "rel1" || w.User != "alice" || w.Notes != 1 {
			t.Fatalf("alice's request %d: got %+v, want pid %d, rel1, alice with 1 note", i, w, pidA)
		}
	}
	if got := g.generations(); got[1] != "detached" || got[2] != "active" {
		t.Fatalf("generations: got %v, want 1 detached and 2 active", got)
	}

	a.Post("/logout", nil)
	loggedOff := time.Now()
	if !gwtest.Poll(time.Second, func() bool { return !gwtest.PIDAlive(pidA) }) {
		t.Fatalf("generation 1's worker (pid %d) still runs a second after its last session logged off", pidA)
	}
	t.Logf("generation 1 gone %v after its last session logged off", time.Since(loggedOff).Round(time.Millisecond))
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 5*time.Second)
	if w := a.Login("alice"); w.Revision != "rel2" {
		t.Fatalf("alice after logging off and on: got %+v, want rel2", w)
	}
	// The state file is written just after the log line: poll it.
	var got map[int]string
	if !gwtest.Poll(5*time.Second, func() bool { got = g.generations(); return len(got) == 1 && got[2] == "active" }) {
		t.Fatalf("generations after retirement: got %v, want only 2 active", got)
	}
}

// The old generation keeps the directory it was started from after the
// symlink moves: the revision is resolved at start.
func TestRevisionResolvedAtStart(t *testing.T) {
	g := startGateway(t, options{})
	a := g.browser()
	a.Login("alice")
	g.point("rel2")
	g.upgrade()
	dirs := map[int]string{}
	for _, gen := range g.state().Generations {
		dirs[gen.ID] = gen.Directory
	}
	if dirs[1] != g.dir+"/rel1" || dirs[2] != g.dir+"/rel2" {
		t.Fatalf("directories: got %v, want 1 → rel1 and 2 → rel2", dirs)
	}
	if w := a.Who(); w.Revision != "rel1" {
		t.Fatalf("alice: got revision %q, want rel1", w.Revision)
	}
}

func TestIdleSessionExpiresAndRetiresGeneration(t *testing.T) {
	g := startGateway(t, options{idle: "1s"})
	a := g.browser()
	a.Login("alice")
	g.point("rel2")
	g.upgrade()
	g.waitLog(`msg="sessions expired" component=proxy generation=1`, 1, 10*time.Second)
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 10*time.Second)
	// The affinity cookie is as old as the session's last use: it must not
	// bring the session back to a generation.
	if w := a.Who(); w.Revision != "rel2" || w.Session {
		t.Fatalf("alice after expiry: got %+v, want rel2 without a session", w)
	}
}

func TestRotatedSessionIDStaysWithItsState(t *testing.T) {
	g := startGateway(t, options{})
	a := g.browser()
	a.Login("alice")
	a.Post("/notes", url.Values{"note": {"one"}})
	before := a.Cookie("SID")
	g.point("rel2")
	g.upgrade()
	w := a.Login("alice-again") // the app rotates the id on login
	if a.Cookie("SID") == before {
		t.Fatal("the app did not rotate the session id")
	}
	if w.Generation != "1" || w.Notes != 1 || w.User != "alice-again" {
		t.Fatalf("after rotation: got %+v, want generation 1 with the note kept", w)
	}
	if w := a.Who(); w.Generation != "1" || w.Notes != 1 {
		t.Fatalf("next request after rotation: got %+v, want generation 1 with 1 note", w)
	}
	g.waitPins(1) // the old id unpinned
}

// /signout forgets the session in the app but leaves its cookie; as a
// configured logout path the gateway ends the pin and expires the cookie.
func TestLogoutPathMovesNextLoginToActive(t *testing.T) {
	g := startGateway(t, options{})
	a := g.browser()
	a.Login("alice")
	g.point("rel2")
	g.upgrade()
	a.Post("/signout", nil)
	if c := a.Cookie("SID"); c != "" {
		t.Fatalf("session cookie after the logout path: got %q, want it expired", c)
	}
	if w := a.Login("alice"); w.Revision != "rel2" {
		t.Fatalf("next login: got %+v, want rel2", w)
	}
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 5*time.Second)
}

func TestGenerationNumbersContinueAfterRestart(t *testing.T) {
	g := startGateway(t, options{})
	g.point("rel2")
	g.upgrade()
	g.stop()
	if g.waitErr != nil {
		t.Fatalf("gatewayd exit after SIGTERM: got %v, want status 0", g.waitErr)
	}
	h := &gateway{t: t, dir: g.dir, url: g.url, config: g.config, rel: g.rel, log: &logBuf{}, exited: make(chan struct{})}
	h.start()
	if w := h.browser().Who(); w.Generation != "3" {
		t.Fatalf("first generation after a restart: got %q, want 3", w.Generation)
	}
}

// Upgrades pile up: each detached generation keeps its own sessions and
// retires on its own.
func TestSeveralDetachedGenerationsDrainIndependently(t *testing.T) {
	g := startGateway(t, options{})
	a := g.browser()
	a.Login("alice")
	g.point("rel2")
	g.upgrade()
	b := g.browser()
	b.Login("bob")
	g.point("rel1")
	g.upgrade()
	c := g.browser()
	for who, want := range map[*gwtest.Browser]string{a: "1", b: "2", c: "3"} {
		if w := who.Who(); w.Generation != want {
			t.Fatalf("got generation %s, want %s", w.Generation, want)
		}
	}
	if got := g.generations(); got[1] != "detached" || got[2] != "detached" || got[3] != "active" {
		t.Fatalf("generations: got %v, want 1 and 2 detached, 3 active", got)
	}
	b.Post("/logout", nil)
	g.waitLog(`msg="generation retired" component=supervisor generation=2`, 1, 5*time.Second)
	if got := g.generations(); got[1] != "detached" {
		t.Fatalf("generation 1 after generation 2 retired: got %v, want it still detached", got)
	}
	if w := a.Who(); w.Generation != "1" || w.User != "alice" {
		t.Fatalf("alice: got %+v, want generation 1", w)
	}
}
