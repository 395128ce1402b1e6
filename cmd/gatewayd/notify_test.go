package main

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/supervisor"
)

// fakeSystemd is a NOTIFY_SOCKET that records what the gateway says.
type fakeSystemd struct{ conn *net.UnixConn }

func listenNotify(t *testing.T) *fakeSystemd {
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &fakeSystemd{conn: c}
}

// next returns the next message, or "" after limit.
func (f *fakeSystemd) next(limit time.Duration) string {
	buf := make([]byte, 4096)
	f.conn.SetReadDeadline(time.Now().Add(limit))
	n, err := f.conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

type fakeSupervisor struct {
	stuck  bool
	gens   []supervisor.GenerationInfo
	queued int
}

func (f *fakeSupervisor) UpgradesQueued() int { return f.queued }

func (f *fakeSupervisor) Ping(ctx context.Context) error {
	if f.stuck {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeSupervisor) Generations(context.Context) ([]supervisor.GenerationInfo, error) {
	return f.gens, nil
}

func TestNotifyMessages(t *testing.T) {
	sd := listenNotify(t)
	n := newNotifier(slog.New(slog.DiscardHandler))
	n.sup = &fakeSupervisor{gens: []supervisor.GenerationInfo{{ID: 1, State: supervisor.Active, Revision: "r1"}}}
	n.ready()
	if got := sd.next(time.Second); got != "READY=1" {
		t.Fatalf("ready: got %q, want READY=1", got)
	}
	n.reloading()
	if got := sd.next(time.Second); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("reloading: got %q, want RELOADING=1 with MONOTONIC_USEC", got)
	}
	n.status(context.Background())
	if got := sd.next(time.Second); got != "STATUS=active gen 1 (rev r1, 0 sessions)" {
		t.Fatalf("status: got %q", got)
	}
	n.sup = &fakeSupervisor{queued: 2, gens: []supervisor.GenerationInfo{{ID: 1, State: supervisor.Active, Revision: "r1"},
		{ID: 2, State: supervisor.Starting, Revision: "r2"}}}
	n.status(context.Background())
	if got, want := sd.next(time.Second), "STATUS=active gen 1 (rev r1, 0 sessions) · starting gen 2 · upgrade queued (2 requests)"; got != want {
		t.Fatalf("status with a queued upgrade: got %q, want %q", got, want)
	}
	n.stopping()
	if got := sd.next(time.Second); got != "STOPPING=1" {
		t.Fatalf("stopping: got %q, want STOPPING=1", got)
	}
}

// The watchdog is fed only while the supervisor's loop answers.
func TestWatchdog(t *testing.T) {
	for _, stuck := range []bool{false, true} {
		t.Run(map[bool]string{false: "loop answers", true: "loop stuck"}[stuck], func(t *testing.T) {
			sd := listenNotify(t)
			t.Setenv("WATCHDOG_USEC", "200000")
			t.Setenv("WATCHDOG_PID", "")
			n := newNotifier(slog.New(slog.DiscardHandler))
			n.sup = &fakeSupervisor{stuck: stuck}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { n.run(ctx); close(done) }()
			got := sd.next(time.Second)
			cancel()
			<-done
			if want := map[bool]string{false: "WATCHDOG=1", true: ""}[stuck]; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestStatusLine(t *testing.T) {
	gen := func(id int, st supervisor.State, rev string, sessions int) supervisor.GenerationInfo {
		return supervisor.GenerationInfo{ID: id, State: st, Revision: rev, Usage: supervisor.Usage{Sessions: sessions}}
	}
	cases := []struct {
		gens []supervisor.GenerationInfo
		want string
	}{
		{nil, "no active generation"},
		{[]supervisor.GenerationInfo{gen(1, supervisor.Starting, "a", 0)}, "no active generation · starting gen 1"},
		{[]supervisor.GenerationInfo{gen(2, supervisor.Detached, "a", 1), gen(3, supervisor.Detached, "b", 12), gen(4, supervisor.Active, "2026-11-20", 5)},
			"active gen 4 (rev 2026-11-20, 5 sessions) · detached: gen 3 (12 sessions), gen 2 (1 session)"},
	}
	for _, c := range cases {
		if got := statusLine(c.gens); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestJournalFieldNames(t *testing.T) {
	for in, want := range map[string]string{
		"generation": "GATEWAY_GENERATION", "event": "GATEWAY_EVENT",
		"sessions_lost": "GATEWAY_SESSIONS_LOST", "drain-deadline": "GATEWAY_DRAIN_DEADLINE", "é": "GATEWAY__",
	} {
		if got := fieldName(in); got != want {
			t.Errorf("fieldName(%q): got %q, want %q", in, got, want)
		}
	}
}
