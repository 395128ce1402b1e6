package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// TestMain lets the test binary double as the app, so the socket-activation
// test can exec it with a real inherited fd 3.
func TestMain(m *testing.M) {
	if os.Getenv("NOTES_TEST_RUN_APP") == "1" {
		os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
	}
	os.Exit(m.Run())
}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestActivationFDs(t *testing.T) {
	const self = 4242
	for _, tc := range []struct {
		name      string
		fds, pid  string
		want      int
		wantError bool
	}{
		{"absent", "", "", 0, false},
		{"fds without pid", "1", "", 0, false},
		{"pid without fds", "", "4242", 0, false},
		{"ours", "1", "4242", 1, false},
		{"ours, several", "3", "4242", 3, false},
		{"ours, zero", "0", "4242", 0, false},
		{"another process", "1", "4243", 0, false},
		{"bad pid", "1", "me", 0, true},
		{"bad count", "one", "4242", 0, true},
		{"negative count", "-1", "4242", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := activationFDs(tc.fds, tc.pid, self)
			if (err != nil) != tc.wantError {
				t.Fatalf("error: got %v, want error %v", err, tc.wantError)
			}
			if got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestOpenListenerFallbacks(t *testing.T) {
	pid := os.Getpid()
	for _, tc := range []struct {
		name       string
		env        map[string]string
		wantSource string
	}{
		{"addr flag", nil, sourceAddr},
		{"PORT", map[string]string{"PORT": "0"}, sourcePort},
		{"activation for another pid", map[string]string{"LISTEN_FDS": "1", "LISTEN_PID": fmt.Sprint(pid + 1), "PORT": "0"}, sourcePort},
		{"activation with zero fds", map[string]string{"LISTEN_FDS": "0", "LISTEN_PID": fmt.Sprint(pid)}, sourceAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, source, err := openListener("127.0.0.1:0", env(tc.env), pid)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if source != tc.wantSource {
				t.Errorf("source: got %q, want %q", source, tc.wantSource)
			}
			if got, want := l.Addr().(*net.TCPAddr).IP.String(), "127.0.0.1"; got != want {
				t.Errorf("host: got %q, want %q", got, want)
			}
		})
	}
	t.Run("malformed activation", func(t *testing.T) {
		l, _, err := openListener("127.0.0.1:0", env(map[string]string{"LISTEN_FDS": "x", "LISTEN_PID": fmt.Sprint(pid)}), pid)
		if err == nil {
			l.Close()
			t.Error("got no error, want one")
		}
	})
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		env          map[string]string
		wantRevision string
		wantGen      string
		wantCookie   string
	}{
		{"defaults", nil, nil, "dev", "", "NOTESSESSION"},
		{"GATEWAY_REVISION", nil, map[string]string{"GATEWAY_REVISION": "gw"}, "gw", "", "NOTESSESSION"},
		{"REVISION beats GATEWAY_REVISION", nil, map[string]string{"REVISION": "env", "GATEWAY_REVISION": "gw"}, "env", "", "NOTESSESSION"},
		{"flag beats env", []string{"-revision", "flag"}, map[string]string{"REVISION": "env"}, "flag", "", "NOTESSESSION"},
		{"generation", nil, map[string]string{"GATEWAY_GENERATION": "12"}, "dev", "12", "NOTESSESSION"},
		{"cookie", []string{"-cookie", "JSESSIONID"}, nil, "dev", "", "JSESSIONID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.revision != tc.wantRevision {
				t.Errorf("revision: got %q, want %q", cfg.revision, tc.wantRevision)
			}
			if cfg.generation != tc.wantGen {
				t.Errorf("generation: got %q, want %q", cfg.generation, tc.wantGen)
			}
			if cfg.cookie != tc.wantCookie {
				t.Errorf("cookie: got %q, want %q", cfg.cookie, tc.wantCookie)
			}
			if want := "127.0.0.1:8081"; cfg.addr != want {
				t.Errorf("addr: got %q, want %q", cfg.addr, want)
			}
		})
	}
	for _, args := range [][]string{{"-cookie", "bad name"}, {"-idle", "soon"}, {"extra"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if _, err := parseFlags(args, env(nil), io.Discard); err == nil {
				t.Errorf("got no error for %q", args)
			}
		})
	}
}

// TestSocketActivation execs the app with a listening socket as fd 3, the
// way the gateway does, and stops it with SIGTERM.
func TestSocketActivation(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("socket activation is a Unix protocol")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set LISTEN_PID to the child's own pid")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // the dup in lf keeps the socket open for the child

	// exec keeps the shell's pid, so $$ is the app's pid: what a service
	// manager writes into LISTEN_PID after fork.
	cmd := exec.Command(sh, "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`,
		exe, "-revision", "r-activated", "-addr", "127.0.0.1:1")
	cmd.Env = append(cleanEnv(), "NOTES_TEST_RUN_APP=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=http", "GATEWAY_GENERATION=5")
	cmd.ExtraFiles = []*os.File{lf}
	var stderr gwtest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	defer cmd.Process.Kill()

	got := waitWhoami(t, "http://"+addr+"/whoami", &stderr)
	if want := (whoamiReply{Revision: "r-activated", Generation: "5", PID: cmd.Process.Pid}); got != want {
		t.Errorf("whoami: got %+v, want %+v", got, want)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: got %v, want status 0\n%s", err, &stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after SIGTERM\n%s", &stderr)
	}
	for _, want := range []string{"notes: revision r-activated pid", "listening on " + addr, "socket=activation", "notes: stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log: missing %q in\n%s", want, &stderr)
		}
	}
}

func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PORT", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "REVISION", "GATEWAY_REVISION", "GATEWAY_GENERATION":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func waitWhoami(t *testing.T, url string, stderr *gwtest.Buffer) whoamiReply {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			defer resp.Body.Close()
			var w whoamiReply
			if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
				t.Fatal(err)
			}
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("app never answered: %v\n%s", err, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
