package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/fleet/fleettest"
	"github.com/gatewayd/gateway/tests/dbustest"
	"github.com/godbus/dbus/v5"
)

// fakeCore is the gateway behind the API: generations and sessions the
// tests set, and the calls it was asked to make.
type fakeCore struct {
	mu       sync.Mutex
	gens     []fleet.Generation
	sessions []fleet.Pin
	err      error    // returned by every method if set
	calls    []string // "detach 4", "retire 3 force=true", "end-session HASH"
	store    fleet.PinStore
	listens  []fleet.Listener
}

func (f *fakeCore) Listeners(context.Context) ([]fleet.Listener, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listens, f.err
}

func (f *fakeCore) PinStore(context.Context) (fleet.PinStore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store, f.err
}

func (f *fakeCore) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeCore) Upgrade(ctx context.Context) (int, error) {
	if err := f.record("upgrade"); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replaceActive(), nil
}

func (f *fakeCore) Detach(ctx context.Context, gen int) (int, error) {
	if err := f.record(fmt.Sprintf("detach %d", gen)); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replaceActive(), nil
}

// Rollback, UpgradeCanary, Promote and Abort move the generations as the
// supervisor does (fleet/fleettest).
func (f *fakeCore) Rollback(_ context.Context, move bool) (int, error) {
	if err := f.record(fmt.Sprintf("rollback move=%t", move)); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return fleettest.Rollback(f.gens)
}

func (f *fakeCore) UpgradeCanary(_ context.Context, share float64) (int, error) {
	if err := f.record(fmt.Sprintf("canary %g", share)); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var id int
	f.gens, id = fleettest.AddCanary(f.gens, share)
	return id, nil
}

func (f *fakeCore) Promote(context.Context) (int, error) { return f.endTrial("promote", fleet.Active) }

func (f *fakeCore) Abort(_ context.Context, move bool) (int, error) {
	return f.endTrial(fmt.Sprintf("abort move=%t", move), fleet.Detached)
}

func (f *fakeCore) endTrial(call string, to fleet.State) (int, error) {
	if err := f.record(call); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return fleettest.EndTrial(f.gens, to)
}

// replaceActive starts generation max+1 on revision r<N> and detaches the
// active one, as an upgrade does.
func (f *fakeCore) replaceActive() int {
	next := 1
	for i, g := range f.gens {
		next = max(next, g.ID+1)
		if g.State == "active" {
			f.gens[i].State = "detached"
			f.gens[i].Detached = time.Now()
		}
	}
	f.gens = append(f.gens, fleet.Generation{ID: next, State: "active", Revision: fmt.Sprintf("r%d", next), Started: time.Now()})
	return next
}

func (f *fakeCore) Retire(ctx context.Context, gen int, force bool) error {
	return f.record(fmt.Sprintf("retire %d force=%t", gen, force))
}

func (f *fakeCore) Generations(ctx context.Context) ([]fleet.Generation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.gens), f.err
}

func (f *fakeCore) Sessions(ctx context.Context) ([]fleet.Pin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sessions), f.err
}

func (f *fakeCore) RecentSessions(ctx context.Context, n int) ([]fleet.Pin, error) {
	return f.Sessions(ctx)
}

func (f *fakeCore) EndSession(ctx context.Context, key fleet.SessionKey) error {
	return f.record("end-session " + key.String())
}

func (f *fakeCore) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeCore) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

var _ fleet.Core = (*fakeCore)(nil)

// at is d from now.
func at(d time.Duration) time.Time { return time.Now().Add(d) }

func key(hash string) fleet.SessionKey {
	k, err := fleet.ParseSessionKey(hash)
	if err != nil {
		panic(err)
	}
	return k
}

const (
	hashA = "0123456789abcdef0123456789abcdef"
	hashB = "fedcba9876543210fedcba9876543210"
	hashC = "00112233445566778899aabbccddeeff"
)

// newCore is a gateway in the middle of a life: generation 4 active for
// 3h12m, 3 detached without a deadline, 2 detached with one in 2h49m and
// draining its last connections, 5 starting. Times are half a minute off
// the displayed unit, so that a slow test run shows the same text.
func newCore() *fakeCore {
	return &fakeCore{
		gens: []fleet.Generation{
			{ID: 2, State: "detached", Revision: "r2", Unit: "gateway-gen2.scope", PIDs: []int{1200},
				Usage:   fleet.Usage{InFlight: 1, Upgraded: 1},
				Started: at(-(51*time.Hour + 30*time.Second)), Detached: at(-(5*time.Hour + 10*time.Minute + 30*time.Second)),
				Deadline: at(2*time.Hour + 49*time.Minute + 30*time.Second)},
			{ID: 3, State: "detached", Revision: "r3", Unit: "gateway-gen3.scope", PIDs: []int{1300},
				Usage:   fleet.Usage{Sessions: 1},
				Started: at(-(5*time.Hour + 10*time.Minute + 30*time.Second)), Detached: at(-(3*time.Hour + 12*time.Minute + 30*time.Second))},
			{ID: 4, State: "active", Revision: "r4", Unit: "gateway-gen4.scope", PIDs: []int{1400, 1401},
				Usage:   fleet.Usage{Sessions: 12, InFlight: 2},
				Started: at(-(3*time.Hour + 12*time.Minute + 30*time.Second))},
			{ID: 5, State: "starting", Revision: "r5", Started: at(-2 * time.Second)},
		},
		store: fleet.PinStore{Path: "/run/gateway/notes.pins", Bytes: 40_200_000, LastWrite: at(-5 * time.Minute),
			Error: "open /run/gateway/notes.pins.tmp: read-only file system", WriteFailures: 12},
		listens: []fleet.Listener{
			{Address: "127.0.0.1:8080", Certificates: []fleet.Certificate{}},
			{Name: "https", Address: "0.0.0.0:443", TLS: true, HTTP2: true, ProxyProtocol: true, Certificates: []fleet.Certificate{
				{File: "/etc/ssl/site.pem", Names: []string{"site.test", "www.site.test"}, NotAfter: at(61*24*time.Hour + time.Hour)}}},
			{Name: "plain", Address: "0.0.0.0:80", RedirectHTTPS: 443, Certificates: []fleet.Certificate{}},
		},
		sessions: []fleet.Pin{
			{Key: key(hashB), Generation: 4, Instance: 2, LastSeen: at(-192 * time.Second)},
			{Key: key(hashA), Generation: 3, Instance: 1, LastSeen: at(-3600 * time.Second)},
			{Key: key(hashC), Generation: 4, Instance: 1, LastSeen: at(-5 * time.Second)},
		},
	}
}

// serve puts core on a private bus under the name of instance ("":
// gateway.service) and points --user at that bus.
func serve(t *testing.T, core fleet.Core, instance string) {
	t.Helper()
	bus := dbustest.Start(t)
	conn := bus.Conn(t)
	reply, err := conn.RequestName(dbusapi.BusName(instance), dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: reply %v, error %v", dbusapi.BusName(instance), reply, err)
	}
	srv, err := dbusapi.Export(conn, core, dbusapi.Info{App: "notes", Version: "1.4.0"}, dbusapi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Refresh(context.Background())
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus.Address)
}

// ctl runs gatewayctl as the shell would.
func ctl(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestReadCommands(t *testing.T) {
	serve(t, newCore(), "")
	tests := []struct {
		args []string
		want []string // in stdout, in this order
	}{
		{[]string{"--user", "status"}, []string{
			"notes: gateway 1.4.0, org.gatewayd.Gateway1 on the user bus\n",
			"   Active: generation 4 (revision r4) since ", "; up 3h12m\n",
			"           gateway-gen4.scope, pids 1400, 1401; 12 sessions, 2 in flight, 0 upgraded\n",
			" Sessions: 13 pinned\n",
			"Pin store: /run/gateway/notes.pins, 40.2 MB; FAILING (12 failed writes): open /run/gateway/notes.pins.tmp: read-only file system\n",
			"           last written 5m ago; a restart now would lose the sessions changed since\n",
			"   Listen: 127.0.0.1:8080: HTTP/1.1\n",
			"           https 0.0.0.0:443: TLS, HTTP/2 and HTTP/1.1, PROXY protocol\n",
			"           certificate /etc/ssl/site.pem (site.test, www.site.test); expires ", " UTC, in 61d1h\n",
			"           plain 0.0.0.0:80: redirects to HTTPS on port 443\n",
			" Starting: generation 5 (revision r5) since ",
			" Detached: generation 3 (revision r3) since ", "; 3h12m ago\n",
			"           gateway-gen3.scope, pids 1300; 1 session, 0 in flight, 0 upgraded\n",
			"           no drain deadline: retires when its last session ends\n",
			" Detached: generation 2 (revision r2) since ", "; 5h10m ago\n",
			"           gateway-gen2.scope, pids 1200; 0 sessions, 1 in flight, 1 upgraded\n",
			"           drain deadline ", "; in 2h49m\n",
		}},
		{[]string{"generations", "--user"}, []string{
			"GEN  STATE     REVISION  UNIT                PIDS       SESSIONS  IN-FLIGHT  UPGRADED  STARTED    DETACHED   DRAIN DEADLINE\n",
			"2    detached  r2        gateway-gen2.scope  1200       0         1          1         2d3h ago   5h10m ago  in 2h49m\n",
			"3    detached  r3        gateway-gen3.scope  1300       1         0          0         5h10m ago  3h12m ago  -\n",
			"4    active    r4        gateway-gen4.scope  1400,1401  12        2          0         3h12m ago  -          -\n",
			"5    starting  r5        -                   -          0         0          0         ",
		}},
		{[]string{"--user", "sessions"}, []string{
			"SESSION                           GEN  INSTANCE  IDLE\n",
			hashA + "  3    1         1h\n",
			hashC + "  4    1         5s\n",
			hashB + "  4    2         3m12s\n",
		}},
		{[]string{"--user", "sessions", "--generation", "4"}, []string{hashC, hashB}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := ctl(tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("got %q, want %q in it (after what came before)", out, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
	t.Run("sessions --generation 4 leaves out the others", func(t *testing.T) {
		out, _, _ := ctl("--user", "sessions", "--generation=4")
		if strings.Contains(out, hashA) {
			t.Errorf("got %q, want no session of generation 3", out)
		}
	})
}

// wantSession is one session of `gatewayctl sessions --json`.
type wantSession struct {
	Hash        string `json:"hash"`
	Generation  int    `json:"generation"`
	Instance    int    `json:"instance"`
	IdleSeconds int    `json:"idle_seconds"`
}

// onTheWire is gens as the D-Bus API carries them: times in microseconds,
// in UTC.
func onTheWire(gens []fleet.Generation) []fleet.Generation {
	out := slices.Clone(gens)
	for i := range out {
		times := []*time.Time{&out[i].Started, &out[i].Detached, &out[i].Deadline}
		if tr := out[i].Trial; tr != nil {
			copied := *tr
			out[i].Trial = &copied
			times = append(times, &copied.Started)
		}
		for _, t := range times {
			if !t.IsZero() {
				*t = t.Truncate(time.Microsecond).UTC()
			}
		}
	}
	return out
}

// asJSON is what writeJSON prints of v.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	if err := writeJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func decodeStrict(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
}

// canaryCore is newCore with generation 5 on trial rather than starting:
// judged, for 10% of new sessions, for three minutes.
func canaryCore() *fakeCore {
	core := newCore()
	core.gens[3] = fleet.Generation{ID: 5, State: fleet.Canary, Revision: "r5", Unit: "gateway-gen5.scope", PIDs: []int{1500},
		Usage: fleet.Usage{Sessions: 2}, Started: at(-3*time.Minute - 2*time.Second),
		Trial: fleettest.JudgedTrial(at(-3*time.Minute), time.Now())}
	return core
}

// The canary's trial reaches gatewayctl status through GetTrial: its
// share, its figures beside the active generation's, the judge and its
// verdict, under the canary; and --json is the console's /api/status.
func TestCanaryStatus(t *testing.T) {
	core := canaryCore()
	serve(t, core, "")
	out, errOut, code := ctl("--user", "status")
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
	}
	rest := out
	for _, w := range []string{
		"   Active: generation 4 (revision r4)",
		"   Canary: generation 5 (revision r5) since ", "; 3m",
		"           gateway-gen5.scope, pids 1500; 2 sessions, 0 in flight, 0 upgraded\n",
		"           10% of new sessions, on trial for 3m",
		"           canary 250 requests, 5xx 0.40%, p99 40ms · active 2400 requests, 5xx 0.08%, p99 36ms\n",
		"           judged by [canary]: aborted at 5xx > active + 1 point or p99 > active + 50% (at least 10ms), once it has 200 requests; promoted after 30m\n",
		"           verdict: within the margins so far: 5xx 0.40% against 0.08%, p99 40ms against 36ms over 250 and 2400 answers\n",
		" Detached: generation 3",
	} {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("got\n%s\nwant %q in it (after what came before)", out, w)
		}
		rest = rest[i+len(w):]
	}

	out, errOut, code = ctl("--user", "status", "--json")
	if code != exitOK {
		t.Fatalf("--json: exit %d, want 0; stderr %q", code, errOut)
	}
	if want := wantStatus(t, core); out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(out, `"trial": {`) || !strings.Contains(out, `"verdict": "within the margins so far`) {
		t.Errorf("--json: no trial on the canary in\n%s", out)
	}
}

// wantStatus is the status document of core's state as status --json
// prints it: its times as exact as the bus carries them.
func wantStatus(t *testing.T, core *fakeCore) string {
	t.Helper()
	ps := core.store
	ps.LastWrite = ps.LastWrite.Truncate(time.Microsecond).UTC()
	st := fleet.NewStatus("notes", "1.4.0", onTheWire(core.gens), ps)
	st.Listeners = core.listens
	for _, l := range st.Listeners {
		for i := range l.Certificates {
			l.Certificates[i].NotAfter = l.Certificates[i].NotAfter.Truncate(time.Microsecond)
		}
	}
	return asJSON(t, st)
}

// --json prints the status document (its contract: fleet/testdata/status.json)
// of what the API carries.
func TestJSON(t *testing.T) {
	core := newCore()
	serve(t, core, "")

	t.Run("status", func(t *testing.T) {
		out, errOut, code := ctl("--user", "status", "--json")
		if code != exitOK {
			t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
		}
		if want := wantStatus(t, core); out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("generations", func(t *testing.T) {
		out, _, code := ctl("--user", "--json", "generations")
		if code != exitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		if want := asJSON(t, onTheWire(core.gens)); out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("null times and empty pids", func(t *testing.T) {
		out, _, _ := ctl("--user", "generations", "--json")
		var raw []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatal(err)
		}
		starting := raw[3]
		for key, want := range map[string]string{"detached": "null", "deadline": "null", "pids": "[]", "unit": `""`} {
			if got := string(starting[key]); got != want {
				t.Errorf("generation 5 %s: got %q, want %q", key, got, want)
			}
		}
	})
	t.Run("sessions", func(t *testing.T) {
		out, _, code := ctl("--user", "sessions", "--json", "--generation", "4")
		if code != exitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		var got []wantSession
		decodeStrict(t, out, &got)
		want := []wantSession{{hashC, 4, 1, 5}, {hashB, 4, 2, 192}}
		// Idle times are read when asked: a slow run adds a second or two.
		for i := range got {
			if i < len(want) && got[i].IdleSeconds-want[i].IdleSeconds <= 2 {
				got[i].IdleSeconds = want[i].IdleSeconds
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
}

func TestMutatingCommands(t *testing.T) {
	tests := []struct {
		args     []string
		wantCall string
		wantOut  string
	}{
		{[]string{"upgrade"}, "upgrade", "generation 6 is active (revision r6)\n"},
		{[]string{"detach", "4"}, "detach 4", "generation 4 detached; generation 6 is active (revision r6)\n"},
		{[]string{"retire", "3"}, "retire 3 force=false", "generation 3 is retiring: its workers are being stopped\n"},
		{[]string{"retire", "--force", "2"}, "retire 2 force=true", "generation 2 is retiring: its workers are being stopped (forced: its sessions and connections are dropped)\n"},
		{[]string{"retire", "2", "--force"}, "retire 2 force=true", "generation 2 is retiring"},
		{[]string{"end-session", hashA}, "end-session " + hashA, "session " + hashA + " ended\n"},
		{[]string{"rollback"}, "rollback move=false", "generation 3 is active again (revision r3)\n"},
		{[]string{"upgrade", "--canary", "10%"}, "canary 0.1", "generation 6 is the canary: 10% of new sessions go to it"},
		{[]string{"rollback", "--move-sessions"}, "rollback move=true",
			"generation 3 is active again (revision r3); the sessions of the generation rolled back from were ended\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			core := newCore()
			serve(t, core, "")
			out, errOut, code := ctl(append([]string{"--user"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
			}
			if !strings.HasPrefix(out, tt.wantOut) {
				t.Errorf("stdout: got %q, want %q", out, tt.wantOut)
			}
			if got := core.called(); !slices.Equal(got, []string{tt.wantCall}) {
				t.Errorf("calls: got %q, want %q", got, []string{tt.wantCall})
			}
		})
	}
}

func TestInstance(t *testing.T) {
	serve(t, newCore(), "blue")
	out, errOut, code := ctl("--user", "--instance", "blue", "status")
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
	}
	if want := "notes: gateway 1.4.0, org.gatewayd.Gateway1.i_blue on the user bus\n"; !strings.HasPrefix(out, want) {
		t.Errorf("got %q, want it to start with %q", out, want)
	}
}

// Failures are exit 1 with the reason, and what to do, on stderr; nothing
// on stdout.
func TestFailures(t *testing.T) {
	tests := []struct {
		name     string
		instance string // the gateway serving on the bus
		coreErr  error
		args     []string
		want     []string // in stderr
	}{
		{"no gateway", "blue", nil, []string{"--user", "status"}, []string{
			"gatewayctl: no gateway on the user bus (org.gatewayd.Gateway1): is gateway.service running? (systemctl --user status gateway.service)\n"}},
		{"no such instance", "blue", nil, []string{"--user", "--instance", "green", "generations"}, []string{
			"org.gatewayd.Gateway1.i_green", "is gateway@green.service running? (systemctl --user status gateway@green.service)"}},
		{"upgrade failed", "", dbusapi.Errorf(dbusapi.ErrNameUpgradeFailed, errors.New("generation 6 did not become ready within 30s: worker exited with status 1; generation 4 is still active")),
			[]string{"--user", "upgrade"}, []string{
				"gatewayctl: upgrade failed: generation 6 did not become ready within 30s: worker exited with status 1; generation 4 is still active\n"}},
		{"a plain error is an upgrade failure too", "", errors.New("no revision to start"),
			[]string{"--user", "upgrade"}, []string{"gatewayctl: upgrade failed: no revision to start\n"}},
		{"retire refused", "", dbusapi.Errorf(dbusapi.ErrNameInvalidState, errors.New("generation 3 still has 1 sessions, 0 requests and 0 upgraded connections: retire it with force to drop them")),
			[]string{"--user", "retire", "3"}, []string{"gatewayctl: retiring generation 3: generation 3 still has 1 sessions"}},
		{"no such generation", "", dbusapi.Errorf(dbusapi.ErrNameNoSuchGeneration, errors.New("generation 9: no such generation")),
			[]string{"--user", "detach", "9"}, []string{"gatewayctl: detaching generation 9: generation 9: no such generation\n",
				"gatewayctl: gatewayctl generations lists the generations\n"}},
		{"access denied", "", dbusapi.Errorf(dbusapi.ErrNameAccessDenied, errors.New("uid 1000 may not end sessions: only root and members of the gateway-admin group may")),
			[]string{"--user", "end-session", hashA}, []string{"gatewayctl: ending session " + hashA + ": uid 1000 may not end sessions",
				"gatewayctl: run as root or as a member of the gateway-admin group\n"}},
		{"listing fails", "", errors.New("supervisor stopped"),
			[]string{"--user", "sessions"}, []string{"gatewayctl: listing the sessions: supervisor stopped\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := newCore()
			core.fail(tt.coreErr)
			serve(t, core, tt.instance)
			out, errOut, code := ctl(tt.args...)
			if code != exitFail {
				t.Errorf("exit: got %d, want %d", code, exitFail)
			}
			if out != "" {
				t.Errorf("stdout: got %q, want nothing", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr: got %q, want %q in it", errOut, w)
				}
			}
		})
	}
}

// Usage errors are exit 2 and never reach the gateway: no bus is needed.
func TestUsage(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{nil, "gatewayctl: no command given\n"},
		{[]string{"--user"}, "gatewayctl: no command given\n"},
		{[]string{"frobnicate"}, `gatewayctl: unknown command "frobnicate"`},
		{[]string{"--bogus", "status"}, "gatewayctl: flag provided but not defined: -bogus\n"},
		{[]string{"status", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"status", "now"}, `gatewayctl: status takes no arguments, got "now"`},
		{[]string{"status", "--force"}, "gatewayctl: status does not take --force\n"},
		{[]string{"upgrade", "--json"}, "gatewayctl: upgrade does not take --json\n"},
		{[]string{"generations", "--generation", "3"}, "generations does not take --generation"},
		{[]string{"--user", "--system", "status"}, "gatewayctl: --user and --system: pick one bus\n"},
		{[]string{"status", "--timeout", "-1s"}, "--timeout -1s: want a positive duration"},
		{[]string{"status", "--timeout", "soon"}, `invalid value "soon" for flag -timeout`},
		{[]string{"sessions", "--generation", "0"}, "--generation 0: generations are numbered from 1"},
		{[]string{"sessions", "--generation", "x"}, `invalid value "x" for flag -generation`},
		{[]string{"retire"}, "gatewayctl: missing generation number N\nusage: gatewayctl [--system | --user] [--instance NAME] retire N [--force] (gatewayctl help retire)\n"},
		{[]string{"retire", "three"}, `gatewayctl: "three" is not a generation number`},
		{[]string{"detach", "0"}, `gatewayctl: "0" is not a generation number`},
		{[]string{"detach", "-1"}, "flag provided but not defined: -1"},
		{[]string{"detach", "--", "-1"}, `gatewayctl: "-1" is not a generation number`},
		{[]string{"detach", "4", "5"}, `unexpected argument "5" after the generation number N`},
		{[]string{"end-session"}, "gatewayctl: missing session HASH"},
		{[]string{"end-session", "abc"}, `gatewayctl: "abc" is not a session hash: want 32 hex digits`},
		{[]string{"help", "frobnicate"}, `gatewayctl: unknown command "frobnicate"`},
		{[]string{"help", "status", "retire"}, `unexpected argument "retire"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := ctl(tt.args...)
			if code != exitUsage {
				t.Errorf("exit: got %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout: got %q, want nothing", out)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr: got %q, want %q in it", errOut, tt.want)
			}
		})
	}
}

// The help is the manual: it names every command and every flag.
func TestHelp(t *testing.T) {
	fs, _ := newFlags()
	var flags []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "h" {
			flags = append(flags, "--"+f.Name)
		}
	})
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, append(slices.Clone(names), flags...)},
		{[]string{"-h"}, names},
		{[]string{"help"}, names},
		{[]string{"--user", "help"}, names},
		{[]string{"help", "retire"}, []string{"usage: gatewayctl [--system | --user] [--instance NAME] retire N [--force]\n", "--force", "--user", "--timeout DURATION"}},
		{[]string{"retire", "--help"}, []string{"retire N [--force]", "--force"}},
		{[]string{"--help", "sessions"}, []string{"sessions [--json] [--generation N]", "--generation N", `"idle_seconds"`}},
		{[]string{"help", "status"}, []string{`"active_generation"`, `"generations"`}},
		{[]string{"help", "generations"}, []string{`"in_flight"`, `"deadline"`, "RFC 3339"}},
		{[]string{"--version"}, []string{"gatewayctl dev\n"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := ctl(tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("got %q, want %q in it", out, w)
				}
			}
		})
	}
}

// A slow upgrade is waited for however long it takes by default, and
// given up on with --timeout, saying the upgrade goes on.
func TestUpgradeWaits(t *testing.T) {
	core := &slowCore{fakeCore: newCore(), delay: 300 * time.Millisecond}
	serve(t, core, "")
	out, errOut, code := ctl("--user", "upgrade")
	if code != exitOK || out != "generation 6 is active (revision r6)\n" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0 and generation 6 active", code, out, errOut)
	}
	_, errOut, code = ctl("--user", "upgrade", "--timeout", "50ms")
	if want := "gatewayctl: upgrade: the gateway did not answer within 50ms (--timeout): it goes on in the gateway; gatewayctl status shows how it ends\n"; code != exitFail || errOut != want {
		t.Errorf("got exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
}

type slowCore struct {
	*fakeCore
	delay time.Duration
}

func (s *slowCore) Upgrade(ctx context.Context) (int, error) {
	time.Sleep(s.delay)
	return s.fakeCore.Upgrade(ctx)
}

func TestNoBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/bus")
	out, errOut, code := ctl("--user", "status")
	want := "gatewayctl: is a systemd --user manager running with its bus? ($DBUS_SESSION_BUS_ADDRESS, or $XDG_RUNTIME_DIR/bus)\n"
	if code != exitFail || out != "" || !strings.HasPrefix(errOut, "gatewayctl: connecting to the user bus: ") || !strings.HasSuffix(errOut, want) {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 1, nothing, and %q at the end of stderr", code, out, errOut, want)
	}
}

// A rollback with nowhere to go fails with the gateway's reason and the
// D-Bus error's name, and exits 1.
func TestRollbackRefused(t *testing.T) {
	core := newCore()
	core.gens = core.gens[2:] // 4 active, 5 starting: nothing detached
	serve(t, core, "")
	_, errOut, code := ctl("--user", "rollback")
	if code != exitFail || !strings.Contains(errOut, "rollback failed") || !strings.Contains(errOut, "no detached generation is running") {
		t.Errorf("exit %d, stderr %q; want 1 and the reason", code, errOut)
	}
}

// A canary's trial ends with promote (it becomes active) or abort; a share
// that is not one is a usage error before anything is asked.
func TestCanaryCommands(t *testing.T) {
	core := newCore()
	serve(t, core, "")
	if out, errOut, code := ctl("--user", "upgrade", "--canary", "10%"); code != exitOK || !strings.Contains(out, "generation 6 is the canary") {
		t.Fatalf("upgrade --canary: exit %d, %q %q", code, out, errOut)
	}
	// Its trial has just begun, and no judge: an admin ends it.
	out, errOut, code := ctl("--user", "status")
	for _, w := range []string{"   Canary: generation 6 (revision r6)", "           10% of new sessions, on trial for ",
		"           canary no requests yet · active no requests yet\n",
		"           judged by an admin (no [canary] judge): gatewayctl promote or gatewayctl abort\n"} {
		if code != exitOK || !strings.Contains(out, w) {
			t.Errorf("status with a new canary: exit %d, got\n%s\nwant %q in it (stderr %q)", code, out, w, errOut)
		}
	}
	if strings.Contains(out, "verdict") {
		t.Errorf("status: a verdict without a judge in\n%s", out)
	}
	out, errOut, code = ctl("--user", "promote")
	if code != exitOK || out != "generation 6 is active (revision r6)\n" {
		t.Errorf("promote: exit %d, %q %q", code, out, errOut)
	}
	if _, errOut, code := ctl("--user", "promote"); code != exitFail || !strings.Contains(errOut, "no canary") {
		t.Errorf("promote without a canary: exit %d, %q", code, errOut)
	}
	ctl("--user", "upgrade", "--canary", "5")
	if out, errOut, code := ctl("--user", "abort", "--move-sessions"); code != exitOK || out != "canary generation 7 aborted: it gets no new sessions and drains; its sessions were ended\n" {
		t.Errorf("abort: exit %d, %q %q", code, out, errOut)
	}
	for _, bad := range []string{"0", "150%", "ten"} {
		if _, errOut, code := ctl("--user", "upgrade", "--canary", bad); code == exitOK || !strings.Contains(errOut, "--canary") {
			t.Errorf("--canary %s: exit %d, %q; want a refusal naming --canary", bad, code, errOut)
		}
	}
}
