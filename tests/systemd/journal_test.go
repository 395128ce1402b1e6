package systemd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/sdtest"
)

// Under systemd the gateway logs through journald's native protocol with
// structured fields, and each worker's output is attributed to its
// generation's scope (the shim connects it from inside the scope).
func TestJournalFields(t *testing.T) {
	g := startGateway(t, sdOptions{})
	a := g.browser()
	a.Login("alice")
	g.rel.Point("rel2")
	g.upgrade()

	detached := g.m.WaitJournal(t, func(e sdtest.Entry) bool {
		return e.Fields["GATEWAY_EVENT"] == "detached"
	}, 5*time.Second)
	want := map[string]string{
		"GATEWAY_GENERATION": "1", "GATEWAY_REVISION": "rel1", "PRIORITY": "6",
		"_TRANSPORT": "journal", "_SYSTEMD_USER_UNIT": "gateway.service",
	}
	for k, v := range want {
		if got := detached.Fields[k]; got != v {
			t.Errorf("detached entry: %s: got %q, want %q (entry %v)", k, got, v, detached.Fields)
		}
	}

	for gen, rev := range map[string]string{"1": "rel1", "2": "rel2"} {
		unit := "gateway-gen" + gen + ".scope"
		out := g.m.WaitJournal(t, func(e sdtest.Entry) bool {
			return e.Fields["_SYSTEMD_USER_UNIT"] == unit && strings.Contains(e.Message(), "notes: revision "+rev)
		}, 5*time.Second)
		if out.Fields["SYSLOG_IDENTIFIER"] != "notes" || out.Fields["_TRANSPORT"] != "stdout" {
			t.Errorf("worker output of %s: got %v, want identifier notes over the stdout transport", unit, out.Fields)
		}
	}

	a.Post("/logout", nil)
	retired := g.m.WaitJournal(t, func(e sdtest.Entry) bool {
		return e.Fields["GATEWAY_EVENT"] == "retired" && e.Fields["GATEWAY_GENERATION"] == "1"
	}, 5*time.Second)
	if !strings.Contains(retired.Message(), "generation retired") {
		t.Errorf("retired entry message: got %q", retired.Message())
	}
}

// WatchdogSec= is honoured: the gateway keeps feeding the watchdog while
// its loop answers, so systemd does not restart it.
func TestWatchdogIsFed(t *testing.T) {
	g := startGateway(t, sdOptions{service: "WatchdogSec=1s"})
	pid := g.mainPID()
	g.browser().Login("alice")
	time.Sleep(3 * time.Second) // three watchdog periods
	if got := g.mainPID(); got != pid {
		t.Fatalf("MainPID changed from %d to %d: the watchdog fired", pid, got)
	}
	if got := g.show("gateway.service", "NRestarts"); got != "0" {
		t.Fatalf("NRestarts: got %s, want 0", got)
	}
}

// gateway.runner = "auto" picks systemd when a manager answers, and says so.
func TestAutoPicksSystemd(t *testing.T) {
	g := startGateway(t, sdOptions{runner: "auto"})
	g.browser().Login("alice")
	g.waitScopes(5*time.Second, "gateway-gen1.scope")
	if !strings.Contains(g.log(), "runner: systemd") {
		t.Fatal(`the log does not say that "auto" picked systemd`)
	}
}

// Sockets are taken by name: a socket unit that passes none for the proxy
// makes the gateway fail at start with an error naming what it got.
func TestMissingListenerNamed(t *testing.T) {
	g := startGateway(t, sdOptions{})
	g.m.MustSystemctl(t, "stop", "gateway.service", "gateway.socket")
	g.m.WriteUnit(t, "gateway.socket", "[Socket]\nListenStream=127.0.0.1:"+g.port+"\nFileDescriptorName=admin\n")
	g.m.MustSystemctl(t, "start", "gateway.socket")
	g.healthy() // activates; the gateway must refuse to run
	g.m.WaitLog(t, "none for the proxy: name it http", 10*time.Second)
}
