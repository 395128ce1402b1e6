package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries built once for all tests.
var bin struct{ gatewayd, notes string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gateway-e2e-bin-")
	if err != nil {
		panic(err)
	}
	bin.gatewayd = filepath.Join(dir, "gatewayd")
	bin.notes = filepath.Join(dir, "notes")
	for target, pkg := range map[string]string{bin.gatewayd: "../../cmd/gatewayd", bin.notes: "../../examples/notes"} {
		args := []string{"build", "-o", target}
		if os.Getenv("GATEWAY_E2E_RACE") == "1" && target == bin.gatewayd {
			// The daemon's own races then show in its log and exit status.
			// Not the app: a race-built binary sleeps a second at exit.
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, pkg)...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gateway is one running gatewayd with its app's release directories.
type gateway struct {
	t       *testing.T
	dir     string // root of releases, config, runtime and state
	url     string
	config  string
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
	waitErr error
}

// options change the default test configuration.
type options struct {
	extra     string // TOML appended to [app]… sections via replacement
	instances int
	socket    string
	idle      string
	maxDrain  string
	window    string
	readiness string
}

// startGateway lays out releases rel1 and rel2 (both the notes app), points
// `current` at rel1, writes a config and starts gatewayd on a free port.
func startGateway(t *testing.T, o options) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: t.TempDir(), log: &syncBuffer{}, exited: make(chan struct{})}
	for _, rel := range []string{"rel1", "rel2"} {
		g.release(rel, "")
	}
	g.point("rel1")
	port := freePort(t)
	g.url = "http://127.0.0.1:" + port
	g.config = filepath.Join(g.dir, "notes.toml")
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
%s`, port, filepath.Join(g.dir, "run"), filepath.Join(g.dir, "state"), filepath.Join(g.dir, "current"),
		def(o.socket, "fd"), o.instances, def(o.readiness, "5s"), def(o.idle, "30m"),
		def(o.maxDrain, "1h"), def(o.window, "1s"), o.extra)
	if err := os.WriteFile(g.config, []byte(cfg), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// release creates a release directory; script, if set, replaces the notes
// binary with a shell script (for workers that fail).
func (g *gateway) release(name, script string) {
	g.t.Helper()
	dir := filepath.Join(g.dir, name)
	os.MkdirAll(dir, 0o755)
	target := filepath.Join(dir, "notes")
	os.Remove(target)
	var err error
	if script != "" {
		err = os.WriteFile(target, []byte("#!/bin/sh\n"+script+"\n"), 0o755)
	} else {
		err = os.Symlink(bin.notes, target)
	}
	if err != nil {
		g.t.Fatal(err)
	}
}

// point moves the `current` symlink, as a deployment would.
func (g *gateway) point(rel string) {
	g.t.Helper()
	tmp := filepath.Join(g.dir, "current.tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join(g.dir, rel), tmp); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(g.dir, "current")); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) start() {
	g.t.Helper()
	g.cmd = exec.Command(bin.gatewayd, "--config", g.config, "--log-level", "debug")
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	go func() { g.waitErr = g.cmd.Wait(); close(g.exited) }()
	g.t.Cleanup(g.stop)
	g.waitLog(`msg="gateway ready`, 1, 15*time.Second)
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
	if !poll(limit, func() bool { return g.log.count(pattern) >= n }) {
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
	Pins []struct {
		Session    string `json:"session"`
		Generation int    `json:"generation"`
	} `json:"pins"`
}

// generations returns generation → state from the state file.
func (g *gateway) generations() map[int]string {
	out := map[int]string{}
	for _, gen := range g.state().Generations {
		out[gen.ID] = gen.State
	}
	return out
}

// poll checks cond every 10ms until it holds or limit passes.
func poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// syncBuffer collects the gateway's log from its process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) count(pattern string) int { return strings.Count(b.String(), pattern) }

func (b *syncBuffer) last(pattern string) string {
	lines := strings.Split(b.String(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], pattern) {
			return lines[i]
		}
	}
	return ""
}

func (b *syncBuffer) matches(re string) bool {
	return regexp.MustCompile(re).MatchString(b.String())
}

// browser is a user with a cookie jar.
type browser struct {
	t    *testing.T
	g    *gateway
	http *http.Client
}

func (g *gateway) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: g.t, g: g, http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type whoami struct {
	Revision   string `json:"revision"`
	Generation string `json:"generation"`
	PID        int    `json:"pid"`
	User       string `json:"user"`
	Notes      int    `json:"notes"`
	Session    bool   `json:"session"`
}

// post sends a form as the app's JSON client and decodes whoami.
func (b *browser) post(path string, form url.Values) whoami {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.g.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return b.do(req)
}

func (b *browser) who() whoami {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.g.url+"/whoami", nil)
	return b.do(req)
}

func (b *browser) do(req *http.Request) whoami {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var w whoami
	if resp.StatusCode != 200 {
		b.t.Fatalf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		b.t.Fatalf("%s %s: decoding whoami: %v", req.Method, req.URL.Path, err)
	}
	return w
}

func (b *browser) login(user string) whoami {
	b.t.Helper()
	return b.post("/login", url.Values{"user": {user}})
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.g.url)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// pidAlive reports whether a process exists (and is not a zombie of ours).
func pidAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data))
	return len(fields) > 2 && fields[2] != "Z"
}
