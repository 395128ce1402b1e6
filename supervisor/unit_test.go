package supervisor

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

func TestUsageIdle(t *testing.T) {
	for _, c := range []struct {
		u    fleet.Usage
		want bool
	}{
		{fleet.Usage{}, true},
		{fleet.Usage{Sessions: 1}, false},
		{fleet.Usage{InFlight: 1}, false},
		{fleet.Usage{Upgraded: 1}, false},
	} {
		if got := c.u.Idle(); got != c.want {
			t.Errorf("%+v.Idle(): got %v, want %v", c.u, got, c.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	d := newDirs(t)
	cfg, err := knobs{}.parse(d) // restart_backoff 10ms, restart_backoff_max 40ms
	if err != nil {
		t.Fatal(err)
	}
	s := &Supervisor{cfg: cfg}
	for _, c := range []struct {
		name        string
		crashes     int
		lastDown    time.Duration // before now; 0: never down before
		want        time.Duration
		wantCrashes int
	}{
		{"first crash", 1, 0, 10 * time.Millisecond, 1},
		{"second in a row", 2, time.Second, 20 * time.Millisecond, 2},
		{"third in a row", 3, time.Second, 40 * time.Millisecond, 3},
		{"capped", 4, time.Second, 40 * time.Millisecond, 4},
		{"many", 50, time.Second, 40 * time.Millisecond, 50},
		{"after a minute up, the count starts again", 5, 2 * time.Minute, 10 * time.Millisecond, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := &instance{crashes: c.crashes}
			if c.lastDown > 0 {
				in.lastDown = time.Now().Add(-c.lastDown)
			}
			if got := s.backoff(in); got != c.want {
				t.Errorf("backoff: got %v, want %v", got, c.want)
			}
			if in.crashes != c.wantCrashes {
				t.Errorf("crashes: got %d, want %d", in.crashes, c.wantCrashes)
			}
			if in.lastDown.IsZero() {
				t.Errorf("lastDown: got zero, want now")
			}
		})
	}
}

func TestWorkerEnv(t *testing.T) {
	for k, v := range map[string]string{
		"NOTIFY_SOCKET": "/run/systemd/notify", "LISTEN_FDS": "2", "LISTEN_PID": "1",
		"LISTEN_FDNAMES": "http:admin", "WATCHDOG_USEC": "1000", "GATEWAY_SECRET": "x",
		"PORT": "9", "KEEP_ME": "yes",
	} {
		t.Setenv(k, v)
	}
	d := newDirs(t)
	cfg, err := knobs{}.parse(d)
	if err != nil {
		t.Fatal(err)
	}
	cfg.App.Environment = map[string]string{"B_VAR": "2", "A_VAR": "1"}
	g := &generation{id: 7, revision: "r9", cfg: cfg}

	for _, c := range []struct {
		name, port string
		wantTail   []string
	}{
		{"with a port", "4321", []string{"A_VAR=1", "B_VAR=2", "GATEWAY_APP=t", "GATEWAY_GENERATION=7", "GATEWAY_INSTANCE=3", "GATEWAY_REVISION=r9", "PORT=4321"}},
		{"with a socket", "", []string{"A_VAR=1", "B_VAR=2", "GATEWAY_APP=t", "GATEWAY_GENERATION=7", "GATEWAY_INSTANCE=3", "GATEWAY_REVISION=r9"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := workerEnv(g, 3, c.port)
			if !slices.Contains(env, "KEEP_ME=yes") {
				t.Errorf("env: got %q, want the gateway's KEEP_ME=yes kept", env)
			}
			for _, kv := range env[:len(env)-len(c.wantTail)] {
				k, _, _ := strings.Cut(kv, "=")
				if k == "NOTIFY_SOCKET" || k == "PORT" || strings.HasPrefix(k, "LISTEN_") ||
					strings.HasPrefix(k, "WATCHDOG_") || strings.HasPrefix(k, "GATEWAY_") {
					t.Errorf("env: got the gateway's own %q, want it left out", kv)
				}
			}
			if got := env[len(env)-len(c.wantTail):]; !slices.Equal(got, c.wantTail) {
				t.Errorf("env ends with %q, want %q", got, c.wantTail)
			}
		})
	}
}

func TestListenUnixRejectsLongPath(t *testing.T) {
	dir := "/" + strings.Repeat("d", 100)
	_, _, err := listenUnix(dir, "app", 1, 1)
	if err == nil {
		t.Fatalf("listenUnix in %s: got nil error, want one", dir)
	}
	wantContains(t, "listenUnix error", err.Error(), "longer than a unix socket allows", "gateway.runtime_directory")
}

func TestTailText(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  string
	}{
		{nil, "; the worker printed nothing"},
		{[]string{"a", "b"}, "; its last output:\n    a\n    b"},
	} {
		w := &fakeWorker{tail: c.lines, done: make(chan struct{})}
		if got := tail(w); got != c.want {
			t.Errorf("tail(%q): got %q, want %q", c.lines, got, c.want)
		}
	}
}

func TestExitText(t *testing.T) {
	if got, want := exitText(nil), "exit status 0"; got != want {
		t.Errorf("exitText(nil): got %q, want %q", got, want)
	}
	if got, want := exitText(errors.New("signal: killed")), "signal: killed"; got != want {
		t.Errorf("exitText: got %q, want %q", got, want)
	}
}

func TestNewRequiresOptions(t *testing.T) {
	d := newDirs(t)
	cfg, err := knobs{}.parse(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"no config", Options{Runner: newFakeRunner(), Traffic: newFakeTraffic()}},
		{"no runner", Options{Config: cfg, Traffic: newFakeTraffic()}},
		{"no traffic", Options{Config: cfg, Runner: newFakeRunner()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if s, err := New(c.o); err == nil || s != nil {
				t.Errorf("New: got %v, %v; want nil and an error", s, err)
			}
		})
	}
}
