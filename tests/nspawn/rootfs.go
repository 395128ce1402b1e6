package nspawn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What the cached root file systems are made of.
const (
	suite   = "bookworm"
	variant = "minbase"
	// cacheFormat changes whenever buildRootfs changes what it puts in the
	// cache, so that old caches are not used any more.
	cacheFormat = "gwnspawn-rootfs-1"

	buildTimeout = 15 * time.Minute // debootstrap and the rest of a build
	lockTimeout  = 20 * time.Minute // waiting for another process's build
)

// BasePackages are the packages debootstrap includes in every root file
// system besides the minbase variant's own; Options.ExtraPackages come on
// top.
var BasePackages = []string{"systemd", "systemd-sysv", "dbus", "curl", "ca-certificates"}

// packageName is what Debian allows as a package name (Debian Policy 5.6.1).
var packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// packageList is the sorted, deduplicated list of BasePackages and extra, or
// an error naming an extra package that is not a valid Debian package name.
func packageList(extra []string) ([]string, error) {
	for _, p := range extra {
		if !packageName.MatchString(p) {
			return nil, fmt.Errorf("ExtraPackages: %q is not a Debian package name", p)
		}
	}
	pkgs := slices.Concat(BasePackages, extra)
	slices.Sort(pkgs)
	return slices.Compact(pkgs), nil
}

// cacheKey names the cached root file system of a package list: the suite
// and a hash of everything that makes the tree.
func cacheKey(pkgs []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", cacheFormat, suite, variant, strings.Join(pkgs, ","))
	return "rootfs-" + suite + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// CacheDir is where the root file systems are cached between runs, one
// directory per package list; $GATEWAY_NSPAWN_CACHE overrides it. Remove a
// directory to have it built afresh (e.g. after a Debian point release).
func CacheDir() string {
	if d := os.Getenv("GATEWAY_NSPAWN_CACHE"); d != "" {
		return d
	}
	return "/var/cache/gateway-tests"
}

// mirror is the Debian mirror debootstrap fetches from;
// $GATEWAY_NSPAWN_MIRROR overrides it.
func mirror() string {
	if m := os.Getenv("GATEWAY_NSPAWN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// rootfs returns the directory of the cached root file system for pkgs
// (its tree is in the subdirectory "root"), building it first when it is
// missing. A build runs under an exclusive lock on DIR.lock, so test
// processes running at the same time build it once; it is made in
// DIR.tmp-PID and renamed to DIR when complete, so DIR, once there, is
// whole.
func rootfs(t testing.TB, pkgs []string) (string, error) {
	dir := filepath.Join(CacheDir(), cacheKey(pkgs))
	if complete(dir) {
		return dir, nil
	}
	if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
		return "", fmt.Errorf("creating the cache directory: %w", err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("opening the cache lock: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := flock(t, lock, lockTimeout); err != nil {
		return "", err
	}
	if complete(dir) {
		return dir, nil // another process built it while we waited
	}
	// Builds that died before their rename: nobody else builds now.
	leftovers, _ := filepath.Glob(dir + ".tmp-*")
	for _, d := range leftovers {
		if err := removeDir(d); err != nil {
			return "", fmt.Errorf("removing an unfinished build: %w", err)
		}
		t.Logf("nspawn: removed the unfinished build %s", d)
	}
	if _, err := os.Stat(dir); err == nil {
		return "", fmt.Errorf("%s exists but is incomplete (no root/etc/os-release): remove it", dir)
	}

	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	t.Logf("nspawn: building the root file system %s with debootstrap (%s %s, packages %s); this takes about a minute, once", dir, suite, variant, strings.Join(pkgs, " "))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if err := buildRootfs(ctx, tmp, pkgs); err != nil {
		if rerr := removeDir(tmp); rerr != nil {
			t.Logf("nspawn: %v", rerr)
		}
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = removeDir(tmp)
		return "", fmt.Errorf("moving the finished root file system into place: %w", err)
	}
	t.Logf("nspawn: built %s in %v", dir, time.Since(start).Round(100*time.Millisecond))
	return dir, nil
}

// complete says whether dir holds a finished root file system.
func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "root", "etc", "os-release"))
	return err == nil
}

// flock takes an exclusive lock on f, waiting at most timeout.
func flock(t testing.TB, f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another process has held %s for %v: is a build stuck?", f.Name(), timeout)
		}
		if !logged {
			t.Logf("nspawn: waiting for another test process building the root file system (%s)", f.Name())
			logged = true
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildRootfs debootstraps pkgs into tmp/root and trims what a test does
// not need. debootstrap runs in a private mount namespace: the /proc and
// /sys it mounts in the tree vanish with it, even if it is killed, so that
// removing an unfinished tree never reaches into the machine's /proc or
// /sys. It also runs as PID 1 of a PID namespace of its own, which unshare
// kills when it dies (and unshare dies with the test process): then the
// kernel ends everything debootstrap started, and nothing goes on writing
// into a tree that the next build removes.
func buildRootfs(ctx context.Context, tmp string, pkgs []string) error {
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	root := filepath.Join(tmp, "root")
	logPath := filepath.Join(tmp, "debootstrap.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private",
		"--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc",
		"debootstrap", "--variant="+variant, "--include="+strings.Join(pkgs, ","), suite, root, mirror())
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive",
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("debootstrap %s into %s: %w; the end of its log:\n%s", suite, root, err, tail(string(b), 40))
	}
	// Downloaded packages and package lists: ~90 MB that every boot would
	// copy and nothing inside uses (the container has no network).
	for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*"} {
		matches, _ := filepath.Glob(filepath.Join(root, glob))
		for _, m := range matches {
			if err := os.Remove(m); err != nil {
				return fmt.Errorf("trimming the root file system: %w", err)
			}
		}
	}
	// Boot writes a fresh one for every container.
	if err := os.WriteFile(filepath.Join(root, "etc", "machine-id"), nil, 0o444); err != nil {
		return fmt.Errorf("clearing the machine ID: %w", err)
	}
	if err := os.Remove(filepath.Join(root, "var", "lib", "dbus", "machine-id")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing dbus's machine ID: %w", err)
	}
	return os.WriteFile(filepath.Join(tmp, "packages"), []byte(strings.Join(pkgs, "\n")+"\n"), 0o644)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
