package daemon

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
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
	gens   []fleet.Generation
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

func (f *fakeSupervisor) Generations(context.Context) ([]fleet.Generation, error) {
	return f.gens, nil
}

func TestNotifyMessages(t *testing.T) {
	sd := listenNotify(t)
	n := newNotifier(slog.New(slog.DiscardHandler))
	sup := &fakeSupervisor{gens: []fleet.Generation{{ID: 1, State: fleet.Active, Revision: "r1"}}}
	n.ready()
	if got := sd.next(time.Second); got != "READY=1" {
		t.Fatalf("ready: got %q, want READY=1", got)
	}
	n.reloading()
	if got := sd.next(time.Second); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("reloading: got %q, want RELOADING=1 with MONOTONIC_USEC", got)
	}
	n.status(context.Background(), sup)
	if got := sd.next(time.Second); got != "STATUS=active gen 1 (rev r1, 0 sessions)" {
		t.Fatalf("status: got %q", got)
	}
	sup = &fakeSupervisor{queued: 2, gens: []fleet.Generation{{ID: 1, State: fleet.Active, Revision: "r1"},
		{ID: 2, State: fleet.Starting, Revision: "r2"}}}
	n.status(context.Background(), sup)
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
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { n.run(ctx, &fakeSupervisor{stuck: stuck}, func(context.Context) {}); close(done) }()
			got := sd.next(time.Second)
			cancel()
			<-done
			if want := map[bool]string{false: "WATCHDOG=1", true: ""}[stuck]; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}
