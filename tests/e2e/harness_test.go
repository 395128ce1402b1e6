package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// bin holds the binaries built once for all tests.
var bin *gwtest.Binaries

func TestMain(m *testing.M) { os.Exit(gwtest.Main(m, "../..", &bin)) }

// gateway is one running gatewayd with its app's release directories.
type gateway struct {
	t       *testing.T
	dir     string // root of releases, config, runtime and state
	url     string
	admin   string // the admin console's URL, when options.admin is set
	config  string
	cmd     *exec.Cmd
	rel     *gwtest.Releases
	log     *logBuf
	exited  chan struct{}
	waitErr error
}

// options change the default test configuration.
type options struct {
	extra      string // TOML appended to [app]… sections via replacement
	instances  int
	socket     string
	idle       string
	maxDrain   string
	window     string
	readiness  string
	admin      bool   // serve the admin console ([admin] listen) on a free loopback port
	adminPass  string // with admin: the console's password (user "admin")
	switchPath string // sessions.switch_path
	gateway    string // TOML lines added to [gateway]
}

// startGateway lays out releases rel1 and rel2 (both the notes app), points
// `current` at rel1, writes a config and starts gatewayd on a free port.
func startGateway(t *testing.T, o options) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: t.TempDir(), log: &logBuf{}, exited: make(chan struct{})}
	g.rel = gwtest.NewReleases(t, g.dir, bin.Notes)
	port := gwtest.FreePort(t)
	g.url = "http://127.0.0.1:" + port
	g.config = filepath.Join(g.dir, "notes.toml")
	if o.admin {
		adminPort := gwtest.FreePort(t)
		g.admin = "http://127.0.0.1:" + adminPort + "/"
		o.extra += fmt.Sprintf("\n[admin]\nlisten = \"127.0.0.1:%s\"\n", adminPort)
		if o.adminPass != "" {
			hash, err := bcrypt.GenerateFromPassword([]byte(o.adminPass), bcrypt.DefaultCost)
			if err != nil {
				t.Fatal(err)
			}
			o.extra += fmt.Sprintf("password_hash = %q\n", hash)
		}
	}
	g.writeConfig(port, o)
	g.start()
	return g
}

func (g *gateway) writeConfig(port string, o options) {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	if o.instances == 0 {
		o.instances = 1
	}
	cfg := fmt.Sprintf(`[gateway]
listen = ["127.0.0.1:%s"]
runtime_directory = %q
state_directory = %q
shutdown_timeout = "10s"
runner = "process"
%s

[app]
directory = %q
command = ["{dir}/notes", "-cookie", "SID"]
socket = %q
instances = %d
stop_timeout = "2s"
restart_backoff = "50ms"

[readiness]
path = "/healthz"
timeout = %q
interval = "20ms"

[sessions]
cookie = "SID"
idle_timeout = %q
logout_paths = ["/signout"]

[drain]
max_time = %q
close_window = %q
%s`, port, filepath.Join(g.dir, "run"), filepath.Join(g.dir, "state"), o.gateway, filepath.Join(g.dir, "current"),
		def(o.socket, "fd"), o.instances, def(o.readiness, "5s"), def(o.idle, "30m"),
		def(o.maxDrain, "1h"), def(o.window, "1s"), o.extra)
	if o.switchPath != "" {
		cfg = strings.Replace(cfg, "[sessions]\n", fmt.Sprintf("[sessions]\nswitch_path = %q\n", o.switchPath), 1)
	}
	if err := os.WriteFile(g.config, []byte(cfg), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// release and point change the app's releases (see gwtest.Releases).
func (g *gateway) release(name, script string) { g.rel.Release(name, script) }
func (g *gateway) point(rel string)            { g.rel.Point(rel) }

// start starts gatewayd (again, after stop) and waits until it is ready.
func (g *gateway) start() {
	g.t.Helper()
	g.exited = make(chan struct{})
	ready := g.log.count(`msg="gateway ready`) + 1
	g.cmd = exec.Command(bin.Gatewayd, "--config", g.config, "--log-level", "debug")
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	go func() { g.waitErr = g.cmd.Wait(); close(g.exited) }()
	g.t.Cleanup(g.stop)
	g.waitLog(`msg="gateway ready`, ready, 15*time.Second)
}

// stop sends SIGTERM and waits; a gateway that does not stop is killed and
// the test fails.
func (g *gateway) stop() {
	select {
	case <-g.exited:
		return
	default:
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(20 * time.Second):
		g.cmd.Process.Kill()
		<-g.exited
		g.t.Errorf("gatewayd did not stop within 20s of SIGTERM; log:\n%s", g.log)
	}
	if strings.Contains(g.log.String(), "WARNING: DATA RACE") {
		g.t.Errorf("gatewayd reported a data race")
	}
	if g.t.Failed() {
		g.t.Logf("gatewayd log:\n%s", g.log)
	}
}

// upgrade sends SIGHUP and waits for the outcome in the log; it returns the
// error line of a failed upgrade, or "".
func (g *gateway) upgrade() string {
	g.t.Helper()
	done := g.log.count(`msg="upgrade done"`)
	failed := g.log.count(`msg="upgrade failed`)
	g.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if g.log.count(`msg="upgrade done"`) > done {
			return ""
		}
		if g.log.count(`msg="upgrade failed`) > failed {
			return g.log.last(`msg="upgrade failed`)
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatalf("no upgrade outcome in the log after 20s:\n%s", g.log)
	return ""
}

// waitLog waits until pattern occurs at least n times in the log.
func (g *gateway) waitLog(pattern string, n int, limit time.Duration) {
	g.t.Helper()
	if !gwtest.Poll(limit, func() bool { return g.log.count(pattern) >= n }) {
		g.t.Fatalf("waited %v for %d× %q in the log:\n%s", limit, n, pattern, g.log)
	}
}

// state reads the gateway's state file.
func (g *gateway) state() stateFile {
	g.t.Helper()
	var st stateFile
	data, err := os.ReadFile(filepath.Join(g.dir, "run", "notes.state.json"))
	if err != nil {
		g.t.Fatalf("reading the state file: %v", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		g.t.Fatalf("decoding the state file: %v\n%s", err, data)
	}
	return st
}

type stateFile struct {
	NextGeneration int `json:"next_generation"`
	Generations    []struct {
		ID        int    `json:"id"`
		State     string `json:"state"`
		Revision  string `json:"revision"`
		Directory string `json:"directory"`
		Instances []struct {
			PID int `json:"pid"`
		} `json:"instances"`
	} `json:"generations"`
}

// generations returns generation → state from the state file.
func (g *gateway) generations() map[int]string {
	out := map[int]string{}
	for _, gen := range g.state().Generations {
		out[gen.ID] = gen.State
	}
	return out
}

// logBuf is the gateway's log as the tests read it.
type logBuf struct{ gwtest.SyncBuffer }

func (b *logBuf) count(pattern string) int   { return gwtest.Count(b.String(), pattern) }
func (b *logBuf) last(pattern string) string { return gwtest.Last(b.String(), pattern) }
func (b *logBuf) matches(re string) bool     { return gwtest.Matches(b.String(), re) }

func (g *gateway) browser() *gwtest.Browser { return gwtest.NewBrowser(g.t, g.url) }
