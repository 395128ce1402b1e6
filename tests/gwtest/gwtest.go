// Package gwtest holds what the end-to-end suites share: building the
// binaries, laying out app releases, a browser with a cookie jar, and
// bounded polling. Only tests import it.
package gwtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binaries are gatewayd, gatewayctl and the notes sample app, built once
// per test binary.
type Binaries struct {
	Dir, Gatewayd, Gatewayctl, Notes string
}

// Build compiles gatewayd and the notes app into a temp dir. With
// GATEWAY_E2E_RACE=1, gatewayd is race-built (not the app: a race-built
// binary sleeps a second at exit).
func Build(root string) (*Binaries, error) {
	dir, err := os.MkdirTemp("", "gateway-bin-")
	if err != nil {
		return nil, err
	}
	b := &Binaries{Dir: dir, Gatewayd: filepath.Join(dir, "gatewayd"), Gatewayctl: filepath.Join(dir, "gatewayctl"),
		Notes: filepath.Join(dir, "notes")}
	for target, pkg := range map[string]string{b.Gatewayd: "./cmd/gatewayd", b.Gatewayctl: "./cmd/gatewayctl", b.Notes: "./examples/notes"} {
		args := []string{"build", "-o", target}
		if os.Getenv("GATEWAY_E2E_RACE") == "1" && target == b.Gatewayd {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("building %s: %v\n%s", pkg, err, out)
		}
	}
	return b, nil
}

// Releases is an app directory layout as deployments have it: release
// directories and a `current` symlink.
type Releases struct {
	t     testing.TB
	Dir   string
	notes string
}

// NewReleases creates rel1 and rel2 (both the notes app) in dir, with
// current → rel1.
func NewReleases(t testing.TB, dir, notes string) *Releases {
	r := &Releases{t: t, Dir: dir, notes: notes}
	r.Release("rel1", "")
	r.Release("rel2", "")
	r.Point("rel1")
	return r
}

// Current is the path of the symlink the config's app.directory names.
func (r *Releases) Current() string { return filepath.Join(r.Dir, "current") }

// Release creates a release directory; script, if set, replaces the notes
// binary with a shell script (for workers that fail).
func (r *Releases) Release(name, script string) {
	r.t.Helper()
	dir := filepath.Join(r.Dir, name)
	os.MkdirAll(dir, 0o755)
	target := filepath.Join(dir, "notes")
	os.Remove(target)
	var err error
	if script != "" {
		err = os.WriteFile(target, []byte("#!/bin/sh\n"+script+"\n"), 0o755)
	} else {
		err = os.Symlink(r.notes, target)
	}
	if err != nil {
		r.t.Fatal(err)
	}
}

// Point moves the `current` symlink atomically, as a deployment would.
func (r *Releases) Point(rel string) {
	r.t.Helper()
	tmp := filepath.Join(r.Dir, "current.tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join(r.Dir, rel), tmp); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, r.Current()); err != nil {
		r.t.Fatal(err)
	}
}

// Poll checks cond every 10ms until it holds or limit passes.
func Poll(limit time.Duration, cond func() bool) bool {
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

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// PIDAlive reports whether a process exists and is not a zombie.
func PIDAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data))
	return len(fields) > 2 && fields[2] != "Z"
}

// SyncBuffer collects a process's output.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count counts occurrences of pattern in s.
func Count(s, pattern string) int { return strings.Count(s, pattern) }

// Last returns the last line of s containing pattern.
func Last(s, pattern string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], pattern) {
			return lines[i]
		}
	}
	return ""
}

// Matches reports whether the regular expression re matches s.
func Matches(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }

// Main is a TestMain body for the end-to-end suites: it builds the binaries
// into *bin, runs the tests and removes the binaries; its result is the
// exit code.
func Main(m *testing.M, root string, bin **Binaries) int {
	b, err := Build(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(b.Dir)
	*bin = b
	return m.Run()
}
