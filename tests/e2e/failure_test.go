package e2e

import (
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// A failed upgrade stops the new generation and leaves the old one active
// and serving; the error names the generation and shows the worker's output.
func TestFailedUpgradeKeepsServing(t *testing.T) {
	cases := []struct {
		name   string
		script string // the release's worker; "" keeps the notes app
		break_ bool   // break the config instead
		want   []string
	}{
		{name: "worker exits", script: "echo 'cannot open database: no such file' >&2; exit 3",
			want: []string{"generation 2 failed to start", "worker exited before it was ready", "cannot open database"}},
		{name: "worker never ready", script: "echo starting; exec sleep 60",
			want: []string{"generation 2 failed to start", "not ready after 1s"}},
		{name: "broken config", break_: true,
			want: []string{"reading the configuration", "instances"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, options{readiness: "1s"})
			a := g.browser()
			a.Login("alice")
			if tc.break_ {
				data, _ := os.ReadFile(g.config)
				os.WriteFile(g.config, []byte(strings.Replace(string(data), "instances = 1", "instances = \"many\"", 1)), 0o644)
			} else {
				g.release("rel2", tc.script)
				g.point("rel2")
			}
			msg := g.upgrade()
			if msg == "" {
				t.Fatal("upgrade succeeded; want it to fail")
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) && !strings.Contains(g.log.String(), want) {
					t.Errorf("failure report lacks %q:\n%s", want, msg)
				}
			}
			if w := a.Who(); w.Generation != "1" || w.User != "alice" {
				t.Fatalf("alice after the failed upgrade: got %+v, want generation 1", w)
			}
			if w := g.browser().Login("bob"); w.Generation != "1" {
				t.Fatalf("a new session after the failed upgrade: got %+v, want generation 1", w)
			}
			if got := g.generations(); len(got) != 1 || got[1] != "active" {
				t.Fatalf("generations: got %v, want only 1 active", got)
			}
		})
	}
}

func TestActiveWorkerCrashIsReplaced(t *testing.T) {
	g := startGateway(t, options{})
	a := g.browser()
	old := a.Login("alice")
	syscall.Kill(old.PID, syscall.SIGKILL)
	g.waitLog(`msg="worker replaced"`, 1, 10*time.Second)
	g.waitLog(`sessions_lost=1`, 1, time.Second)
	w := g.browser().Login("bob")
	if w.PID == old.PID || w.Generation != "1" {
		t.Fatalf("after the crash: got %+v, want generation 1 on a new pid (old %d)", w, old.PID)
	}
	if w := a.Who(); w.Session {
		t.Fatalf("alice after her worker crashed: got %+v, want no session (it died with the worker)", w)
	}
}

func TestDetachedWorkerCrashDropsItsSessions(t *testing.T) {
	g := startGateway(t, options{})
	a := g.browser()
	old := a.Login("alice")
	g.point("rel2")
	g.upgrade()
	syscall.Kill(old.PID, syscall.SIGKILL)
	g.waitLog(`msg="generation lost: no worker left"`, 1, 10*time.Second)
	if !strings.Contains(g.log.last(`generation lost`), "sessions_lost=1") {
		t.Fatalf("lost report: got %q, want sessions_lost=1", g.log.last(`generation lost`))
	}
	if w := a.Who(); w.Generation != "2" {
		t.Fatalf("alice after generation 1 was lost: got %+v, want generation 2", w)
	}
}

func TestSigtermFinishesInFlightRequests(t *testing.T) {
	g := startGateway(t, options{})
	b := g.browser()
	done := make(chan gwtest.Whoami, 1)
	go func() {
		req := mustRequest("GET", g.url+"/slow?ms=1500")
		done <- b.Do(req)
	}()
	time.Sleep(300 * time.Millisecond) // let the request reach the worker
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case w := <-done:
		if w.Generation != "1" {
			t.Fatalf("slow request: got %+v", w)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	<-g.exited
	if g.waitErr != nil {
		t.Fatalf("gatewayd exit: got %v, want 0", g.waitErr)
	}
	if !g.log.matches(`msg="gateway stopped"`) {
		t.Fatalf("no orderly stop in the log:\n%s", g.log)
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	g := startGateway(t, options{extra: "", instances: 1})
	req := mustRequest("GET", g.url+"/whoami")
	req.Header.Set("X-Big", strings.Repeat("x", 128<<10)) // over the 64 KiB default
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status: got %d, want 431", resp.StatusCode)
	}
	if w := g.browser().Who(); w.Generation != "1" {
		t.Fatalf("after the refused request: got %+v", w)
	}
}

// A worker that does not start answering within
// gateway.response_header_timeout (the config key reaches the proxy): its
// client gets 504, the log names the generation, instance and path, and the
// next request is served. (proxy/timeout_test.go checks the in-flight
// count.)
func TestSlowWorkerIs504(t *testing.T) {
	g := startGateway(t, options{gateway: `response_header_timeout = "300ms"`})
	resp, err := http.Get(g.url + "/slow?ms=5000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status: got %d, want 504", resp.StatusCode)
	}
	g.waitLog(`msg="worker did not answer in time" component=proxy generation=1 instance=1 method=GET path=/slow client=127.0.0.1 timeout=300ms`, 1, 5*time.Second)
	if w := g.browser().Who(); w.Generation != "1" {
		t.Fatalf("after the timeout: got %+v", w)
	}
	resp, err = http.Get(g.url + "/slow?ms=10")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a prompt /slow: got %d, want 200", resp.StatusCode)
	}
}
