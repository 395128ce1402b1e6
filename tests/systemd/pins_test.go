package systemd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// Many sessions on two generations, then a restart of the gateway: the
// next gatewayd loads every pin from its pin store, re-adopts both scopes,
// and routes each session by its pin alone (the requests carry no affinity
// cookie). GATEWAY_TEST_PINS sets how many (default 20,000).
func TestRestartKeepsManyPins(t *testing.T) {
	n := 20000
	if v := os.Getenv("GATEWAY_TEST_PINS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	g := startGateway(t, sdOptions{instances: 2})
	old := gwtest.Logins(t, g.url, "old", n/2)
	g.rel.Point("rel2")
	if msg := g.upgrade(); msg != "" {
		t.Fatalf("upgrade failed: %s", msg)
	}
	young := gwtest.Logins(t, g.url, "new", n-n/2)
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
	pid := g.mainPID()
	start := time.Now()
	g.m.MustSystemctl(t, "restart", "gateway.service")
	if !gwtest.Poll(30*time.Second, func() bool {
		return g.mainPID() != pid && gwtest.Count(g.log(), "re-adopted the generations") >= 1
	}) {
		t.Fatal("no new gatewayd re-adopted the generations within 30s")
	}
	t.Logf("restart with %d pins: re-adopted after %v", n, time.Since(start))
	loaded := gwLast(g, "loaded the pins of the previous run")
	adopted := gwLast(g, "re-adopted the generations")
	if !strings.Contains(loaded, fmt.Sprintf("sessions=%d", n)) || !strings.Contains(adopted, fmt.Sprintf("sessions=%d", n)) {
		t.Fatalf("after the restart:\n%s\n%s\nwant %d sessions loaded and kept", loaded, adopted, n)
	}
	for i := 0; i < n/2; i += max(n/400, 1) {
		for _, s := range []gwtest.Session{old[i], young[i]} {
			if w := gwtest.WhoWithSIDOnly(t, g.url, s.SID); w.PID != s.Who.PID || w.User != s.Who.User {
				t.Fatalf("session of %s (worker %d, generation %s): answered by %+v", s.Who.User, s.Who.PID, s.Who.Generation, w)
			}
		}
	}
}

// gatewayd is killed (SIGKILL) while users log in as fast as they can, so
// in the middle of its pin store's writes. The next gatewayd must open the
// store and route by its pin every session that logged in more than a
// second before the kill (the store writes every 250ms).
func TestKillNineWhileLoggingInKeepsPins(t *testing.T) {
	g := startGateway(t, sdOptions{instances: 2})
	type done struct {
		s  gwtest.Session
		at time.Time
	}
	var mu sync.Mutex
	var made []done
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s, err := gwtest.Login(g.url, fmt.Sprintf("u%d-%d", c, i))
				if err != nil {
					return // the kill
				}
				mu.Lock()
				made = append(made, done{s, time.Now()})
				mu.Unlock()
			}
		})
	}
	time.Sleep(2 * time.Second)
	old := g.mainPID()
	syscall.Kill(old, syscall.SIGKILL)
	killed := time.Now()
	close(stop)
	wg.Wait()
	if !gwtest.Poll(30*time.Second, func() bool {
		return g.mainPID() != old && g.mainPID() != 0 && gwtest.Count(g.log(), "re-adopted the generations") >= 1
	}) {
		t.Fatal("no new gatewayd re-adopted the generation within 30s")
	}
	checked, late := 0, 0
	for _, d := range made {
		if d.at.After(killed.Add(-time.Second)) {
			late++
			continue
		}
		if w := gwtest.WhoWithSIDOnly(t, g.url, d.s.SID); w.PID != d.s.Who.PID || w.User != d.s.Who.User {
			t.Fatalf("%s logged in %v before the kill (worker %d): now answered by %+v", d.s.Who.User, killed.Sub(d.at), d.s.Who.PID, w)
		}
		checked++
	}
	t.Logf("%d sessions logged in more than 1s before the kill all kept their pins; %d in the last second not checked", checked, late)
	if checked < 100 {
		t.Fatalf("only %d sessions before the kill: too few to say anything", checked)
	}
}

// A gateway killed right after an upgrade, its last sessions on the old
// generation not yet in the pin store (written every 250 ms; here not at
// all: the file is made immutable, as a write that fails): the old
// generation comes back detached with no known session. The next gatewayd
// holds it (event=held) instead of retiring it as empty, and each of those
// sessions comes back to its worker by its affinity cookie.
func TestKillRightAfterUpgradeKeepsNewSessions(t *testing.T) {
	g := startGateway(t, sdOptions{service: "RestartSec=1s"})
	pins := filepath.Join(g.m.RuntimeDir(), "gateway-notes", "notes.pins")
	warm := g.browser() // the store writes its file with the first pin
	warm.Login("warm")
	if !gwtest.Poll(5*time.Second, func() bool { _, err := os.Stat(pins); return err == nil }) {
		t.Fatalf("no pin store at %s", pins)
	}
	warm.Post("/logout", nil)
	time.Sleep(600 * time.Millisecond) // written: generation 1 has no known session
	if out, err := exec.Command("chattr", "+i", pins).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i %s (the test needs a file system with immutable files, such as ext4): %v: %s", pins, err, out)
	}
	defer exec.Command("chattr", "-i", pins).Run()
	type made struct {
		b   *gwtest.Browser
		who gwtest.Whoami
	}
	var sessions []made
	for i := range 20 {
		b := g.browser()
		sessions = append(sessions, made{b, b.Login(fmt.Sprintf("u%d", i))})
	}
	g.rel.Point("rel2")
	if out, err := g.gatewayctl("upgrade"); err != nil {
		t.Fatalf("gatewayctl upgrade: %v\n%s", err, out)
	}
	old := g.mainPID()
	syscall.Kill(old, syscall.SIGKILL)
	if out, err := exec.Command("chattr", "-i", pins).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	g.waitReadopted(old, 0)
	time.Sleep(time.Second) // the users come back a little later
	for _, s := range sessions {
		if w := s.b.Who(); w.PID != s.who.PID || w.User != s.who.User {
			t.Fatalf("%s logged in on worker %d (generation %s): now answered by %+v", s.who.User, s.who.PID, s.who.Generation, w)
		}
	}
	g.waitLog("event=held", 1, time.Second)
}
