package systemd_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
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

// kill -9 of gatewayd under load: systemd keeps the socket, the scopes
// keep running, the next gatewayd re-adopts them, and every session keeps
// its generation and worker. Only requests in flight at the kill may fail.
func TestKill9UnderLoadKeepsSessions(t *testing.T) {
	g := startGateway(t, sdOptions{instances: 2})
	a, b := g.browser(), g.browser()
	wa := a.Login("alice")
	g.rel.Point("rel2")
	g.upgrade()
	wb := b.Login("bob")
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")

	const clients = 4
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		user := []*gwtest.Browser{a, b}[i%2]
		want := []gwtest.Whoami{wa, wb}[i%2]
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if w, err := who(user.HTTP, g.url); err != nil {
					failed.Add(1)
				} else if w.PID != want.PID {
					t.Errorf("request %d of %s: got pid %d, want %d", n, want.User, w.PID, want.PID)
					return
				} else {
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	old := g.mainPID()
	syscall.Kill(old, syscall.SIGKILL)
	adopted := gwtest.Poll(20*time.Second, func() bool {
		return g.mainPID() != old && g.mainPID() != 0 && gwtest.Count(g.log(), `re-adopted the generations`) >= 1
	})
	time.Sleep(500 * time.Millisecond) // load keeps running on the new process
	close(stop)
	wg.Wait()
	if !adopted {
		t.Fatal("no new gatewayd re-adopted the generations within 20s")
	}
	t.Logf("%d requests answered, %d failed around the kill", ok.Load(), failed.Load())
	if failed.Load() > clients {
		t.Fatalf("%d requests failed; at most the %d in flight at the kill may", failed.Load(), clients)
	}
	g.waitScopes(time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
	if w := a.Who(); w.PID != wa.PID || w.User != "alice" {
		t.Fatalf("alice after the kill: got %+v, want her worker %d", w, wa.PID)
	}
	if w := b.Who(); w.PID != wb.PID || w.User != "bob" {
		t.Fatalf("bob after the kill: got %+v, want his worker %d", w, wb.PID)
	}
	a.Post("/logout", nil)
	g.waitScopes(5*time.Second, "gateway-gen2.scope")
}

// systemctl restart keeps the scopes; systemctl stop stops them.
func TestRestartKeepsAndStopStopsScopes(t *testing.T) {
	g := startGateway(t, sdOptions{})
	a := g.browser()
	wa := a.Login("alice")
	g.m.MustSystemctl(t, "restart", "gateway.service")
	if !gwtest.Poll(10*time.Second, g.healthy) {
		t.Fatal("no answer after the restart")
	}
	if w := a.Who(); w.PID != wa.PID || w.User != "alice" {
		t.Fatalf("alice after systemctl restart: got %+v, want her worker %d", w, wa.PID)
	}
	g.waitScopes(time.Second, "gateway-gen1.scope")
	g.m.MustSystemctl(t, "stop", "gateway.service")
	g.waitScopes(10 * time.Second)
	if gwtest.PIDAlive(wa.PID) {
		t.Fatalf("worker %d still runs after systemctl stop gateway", wa.PID)
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
