package systemd_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

func removeBinary(g *sdGateway, rel string) error {
	return os.Remove(filepath.Join(g.rel.Dir, rel, "notes"))
}

// kill -9 of gatewayd, and systemctl restart, under load: systemd keeps
// the socket, the scopes keep running, the next gatewayd re-adopts them,
// and every session keeps its generation and worker. Only requests in
// flight at a kill may fail.
func TestRestartUnderLoadKeepsSessions(t *testing.T) {
	for _, how := range []string{"kill -9", "systemctl restart"} {
		t.Run(how, func(t *testing.T) {
			g := startGateway(t, sdOptions{instances: 2})
			a, b := g.browser(), g.browser()
			wa := a.Login("alice")
			g.rel.Point("rel2")
			g.upgrade()
			wb := b.Login("bob")
			g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
			old := g.mainPID()
			clients := 4
			ok, failed := underLoad(t, g, clients, []*gwtest.Browser{a, b}, []gwtest.Whoami{wa, wb}, func() {
				if how == "kill -9" {
					syscall.Kill(old, syscall.SIGKILL)
				} else {
					g.m.MustSystemctl(t, "restart", "gateway.service")
				}
				if !gwtest.Poll(20*time.Second, func() bool {
					return g.mainPID() != old && g.mainPID() != 0 && gwtest.Count(g.log(), "re-adopted the generations") >= 1
				}) {
					t.Fatal("no new gatewayd re-adopted the generations within 20s")
				}
			})
			t.Logf("%d requests answered, %d failed", ok, failed)
			allowed := int64(clients) // requests in flight at a kill
			if how != "kill -9" {
				allowed = 0
			}
			if failed > allowed {
				t.Fatalf("%d requests failed; want at most %d", failed, allowed)
			}
			g.waitScopes(time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
			if w := a.Who(); w.PID != wa.PID || w.User != "alice" {
				t.Fatalf("alice: got %+v, want her worker %d", w, wa.PID)
			}
			if w := b.Who(); w.PID != wb.PID || w.User != "bob" {
				t.Fatalf("bob: got %+v, want his worker %d", w, wb.PID)
			}
			a.Post("/logout", nil)
			g.waitScopes(5*time.Second, "gateway-gen2.scope")
		})
	}
}

// underLoad runs clients goroutines requesting /whoami as users (each must
// stay on its worker) around action, and counts answers and failures.
func underLoad(t *testing.T, g *sdGateway, clients int, users []*gwtest.Browser, wants []gwtest.Whoami, action func()) (ok, failed int64) {
	var okN, failedN atomic.Int64
	var firstErr sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		user, want := users[i%len(users)], wants[i%len(wants)]
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				w, err := who(user.HTTP, g.url)
				switch {
				case err != nil:
					failedN.Add(1)
					firstErr.Do(func() { t.Logf("first failed request, of %s: %v", want.User, err) })
				case w.PID != want.PID:
					t.Errorf("request %d of %s: got pid %d, want %d", n, want.User, w.PID, want.PID)
					return
				default:
					okN.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	action()
	time.Sleep(500 * time.Millisecond) // and on the new process
	close(stop)
	wg.Wait()
	return okN.Load(), failedN.Load()
}

// After a restart, a scope the state file does not account for is reported
// and left alone; a generation whose scope is gone is dropped, its sessions
// reported lost.
func TestRestartReportsStraysAndLostGenerations(t *testing.T) {
	g := startGateway(t, sdOptions{service: "RestartSec=2s"})
	a := g.browser()
	wa := a.Login("alice")
	g.rel.Point("rel2")
	g.upgrade()
	g.browser().Login("bob")
	stray := g.m.Command("systemd-run", "--user", "--scope", "--unit=gateway-gen99.scope", "sleep", "60")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stray.Process.Kill(); stray.Wait() })
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope", "gateway-gen99.scope")

	old := g.mainPID()
	syscall.Kill(old, syscall.SIGKILL)
	syscall.Kill(wa.PID, syscall.SIGKILL) // generation 1 dies while no gateway watches
	g.waitLog("re-adopted the generations", 1, 20*time.Second)
	g.waitLog("event=stray unit=gateway-gen99.scope", 1, time.Second)
	lost := gwLast(g, "a generation of the previous gateway process is gone")
	if !strings.Contains(lost, "generation=1") || !strings.Contains(lost, "sessions_lost=1") {
		t.Fatalf("lost report: got %q, want generation 1 with 1 session lost", lost)
	}
	g.waitScopes(time.Second, "gateway-gen2.scope", "gateway-gen99.scope")
	if w := a.Who(); w.Generation != "2" || w.Session {
		t.Fatalf("alice after her generation was lost: got %+v, want generation 2 without a session", w)
	}
}

func who(c *http.Client, base string) (gwtest.Whoami, error) {
	var w gwtest.Whoami
	resp, err := c.Get(base + "/whoami")
	if err != nil {
		return w, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return w, fmt.Errorf("status %d", resp.StatusCode)
	}
	err = jsonDecode(resp.Body, &w)
	return w, err
}

// systemctl stop gateway stops the scopes with it: only a restart keeps them.
func TestStopStopsScopes(t *testing.T) {
	g := startGateway(t, sdOptions{})
	wa := g.browser().Login("alice")
	g.waitScopes(time.Second, "gateway-gen1.scope")
	g.m.MustSystemctl(t, "stop", "gateway.service")
	g.waitScopes(10 * time.Second)
	if gwtest.PIDAlive(wa.PID) {
		t.Fatalf("worker %d still runs after systemctl stop gateway", wa.PID)
	}
}

// A gateway killed while a generation starts: the next one finds that
// generation in the state file (saved before its scope was created), stops
// its scope and does not leave it running unaccounted for.
func TestKillWhileStartingStopsTheNewScope(t *testing.T) {
	g := startGateway(t, sdOptions{service: "RestartSec=1s"})
	g.rel.Release("slow", "echo starting; exec sleep 60") // never ready
	g.rel.Point("slow")
	g.m.MustSystemctl(t, "kill", "--kill-whom=main", "-s", "HUP", "gateway.service")
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
	old := g.mainPID()
	syscall.Kill(old, syscall.SIGKILL)
	g.waitReadopted(old, 0)
	g.waitLog("generation=2 event=leftover", 1, time.Second)
	g.waitScopes(5*time.Second, "gateway-gen1.scope")
	if strings.Contains(g.log(), "event=stray") {
		t.Errorf("the starting generation's scope was reported as a stray")
	}
}
