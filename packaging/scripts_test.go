package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The maintainer scripts are POSIX sh, for dash (Debian's /bin/sh) and
// bash (Fedora's).
func TestScriptsSyntax(t *testing.T) {
	for _, s := range scripts {
		for _, sh := range shells() {
			args := append(slices.Clone(sh[1:]), "-n", s.src)
			if out, err := exec.Command(sh[0], args...).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", strings.Join(sh, " "), s.src, err, out)
			}
		}
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		for _, s := range append([]string{"build.sh"}, "scripts/postinstall.sh", "scripts/preremove.sh", "scripts/postremove.sh") {
			if out, err := exec.Command(sc, "-s", "sh", s).CombinedOutput(); err != nil {
				t.Errorf("shellcheck -s sh %s:\n%s", s, out)
			}
		}
	} else {
		t.Log("shellcheck not installed (apt-get install shellcheck): only sh -n checked")
	}
}

// shells are the shells the scripts run under: dash as Debian's /bin/sh,
// bash in POSIX mode as Fedora's.
func shells() [][]string {
	var out [][]string
	if _, err := exec.LookPath("dash"); err == nil {
		out = append(out, []string{"dash"})
	}
	if _, err := exec.LookPath("bash"); err == nil {
		out = append(out, []string{"bash", "--posix"})
	}
	if len(out) == 0 {
		out = append(out, []string{"sh"})
	}
	return out
}

// shim stands for groupadd, useradd, getent, systemctl and the like (a
// symlink per name): it records each call, one line in $SHIM_LOG, and
// keeps the accounts it "created" in $SHIM_ACCOUNTS for getent.
const shim = `#!/bin/sh
name=$(basename "$0")
if [ "$name" = getent ]; then
	grep -qx "$1:$2" "$SHIM_ACCOUNTS"
	exit
fi
echo "$name $*" >>"$SHIM_LOG"
last=
for a; do last=$a; done
case "$name" in
groupadd) echo "group:$last" >>"$SHIM_ACCOUNTS" ;;
useradd) echo "passwd:$last" >>"$SHIM_ACCOUNTS" ;;
esac
exit 0
`

var shimNames = []string{"groupadd", "useradd", "usermod", "userdel", "groupdel", "getent", "systemctl", "deb-systemd-invoke", "deb-systemd-helper"}

// runner runs one maintainer script inside a private mount namespace
// (unshare --mount): there, and only there, /etc, /var/lib and /run are
// empty tmpfs, so the script sees the files the case sets up and can
// create or delete nothing of this machine's. The shims come first in
// PATH, so no real account or unit is touched either.
const runner = `set -e
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mount -t tmpfs tmpfs /etc
if [ "$CASE_SYSTEMD" = 1 ]; then mkdir -p /run/systemd/system; fi
: >"$SHIM_ACCOUNTS"
if [ "$CASE_ACCOUNTS" = 1 ]; then
	printf 'group:gateway-admin\ngroup:gateway\npasswd:gateway\n' >"$SHIM_ACCOUNTS"
fi
eval "$CASE_SETUP"
set +e
PATH="$SHIMS:$PATH" $CASE_SHELL "$CASE_SCRIPT" "$@" 2>"$CASE_OUT/stderr"
echo $? >"$CASE_OUT/rc"
find /etc /var/lib /run -mindepth 1 >"$CASE_OUT/tree"
`

// state is what a system with the gateway installed and in use has: its
// state, two enabled sockets (one an instance), and things of others.
const state = `
mkdir -p /var/lib/gateway /var/lib/gateway-shop /run/gateway /run/gateway-shop /etc/gateway /var/lib/other \
	/etc/systemd/system/sockets.target.wants /etc/systemd/system/multi-user.target.wants \
	/etc/systemd/system/gateway.service.d
echo key >/var/lib/gateway/affinity.key
echo pins >/run/gateway/state.json
ln -s /usr/lib/systemd/system/gateway.socket /etc/systemd/system/sockets.target.wants/gateway.socket
ln -s /usr/lib/systemd/system/gateway@.socket /etc/systemd/system/sockets.target.wants/gateway@shop.socket
ln -s /usr/lib/systemd/system/other.service /etc/systemd/system/multi-user.target.wants/other.service
echo '[Service]' >/etc/systemd/system/gateway.service.d/local.conf
`

var (
	stateKept = []string{"/var/lib/gateway/affinity.key", "/var/lib/gateway-shop", "/run/gateway/state.json", "/run/gateway-shop", "/etc/gateway"}
	stateGone = []string{"/var/lib/gateway", "/var/lib/gateway-shop", "/run/gateway", "/run/gateway-shop", "/etc/gateway"}
	enabled   = []string{"/etc/systemd/system/sockets.target.wants/gateway.socket", "/etc/systemd/system/sockets.target.wants/gateway@shop.socket"}
	// Never the package's to remove.
	others = []string{"/etc/systemd/system/multi-user.target.wants/other.service", "/var/lib/other", "/etc/systemd/system/gateway.service.d/local.conf"}
)

func TestMaintainerScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		msg := "the maintainer scripts run in a private mount namespace, which needs root"
		if os.Getenv("GATEWAY_REQUIRE_SYSTEMD") == "1" {
			t.Fatal(msg + " (GATEWAY_REQUIRE_SYSTEMD=1: this test must run)")
		}
		t.Skip(msg)
	}
	unshare := need(t, "unshare", "util-linux")
	dir := t.TempDir()
	for _, p := range []string{"/etc", "/run", "/var/lib"} {
		if strings.HasPrefix(dir, p+"/") {
			t.Skipf("the temporary directory %s is under %s, which the test hides", dir, p)
		}
	}
	shims := filepath.Join(dir, "shims")
	if err := os.Mkdir(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shims, "shim"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range shimNames {
		if err := os.Symlink("shim", filepath.Join(shims, n)); err != nil {
			t.Fatal(err)
		}
	}
	runnerPath := filepath.Join(dir, "runner.sh")
	if err := os.WriteFile(runnerPath, []byte(runner), 0o644); err != nil {
		t.Fatal(err)
	}

	nologin := "/usr/sbin/nologin"
	if _, err := os.Stat(nologin); err != nil {
		nologin = "/sbin/nologin"
	}
	accounts := []string{
		"groupadd --system gateway-admin",
		"groupadd --system gateway",
		"useradd --system --gid gateway --no-create-home --home-dir /var/lib/gateway --shell " + nologin + " --comment gateway app workers gateway",
	}
	reload := []string{
		"systemctl daemon-reload",
		"systemctl is-active --quiet dbus.service",
		"systemctl reload dbus.service",
	}
	restart := []string{
		"systemctl try-restart gateway.service",
		"systemctl try-restart gateway@*.service",
	}
	stop := []string{"systemctl stop gateway.socket gateway.service gateway@*.socket gateway@*.service"}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }

	const (
		postinst = "scripts/postinstall.sh"
		prerm    = "scripts/preremove.sh"
		postrm   = "scripts/postremove.sh"
	)
	tests := []struct {
		name     string
		script   string
		args     []string
		systemd  bool // a running systemd: /run/systemd/system exists
		accounts bool // gateway-admin and gateway exist already
		setup    string
		env      []string
		rc       int
		calls    []string // in this order, and no other
		exist    []string // paths there after the script
		gone     []string // paths not there after the script
	}{
		// dpkg: postinst
		{name: "deb install", script: postinst, args: []string{"configure", ""}, systemd: true,
			calls: cat(accounts, reload)},
		{name: "deb upgrade", script: postinst, args: []string{"configure", "0.0.1"}, systemd: true, accounts: true,
			calls: cat(reload, restart)},
		{name: "deb install in a chroot", script: postinst, args: []string{"configure", ""},
			calls: accounts},
		{name: "deb upgrade in a chroot", script: postinst, args: []string{"configure", "0.0.1"}, accounts: true},
		{name: "deb install into DPKG_ROOT", script: postinst, args: []string{"configure", ""}, systemd: true,
			env: []string{"DPKG_ROOT=/srv/root"}, calls: accounts},
		{name: "deb abort-upgrade", script: postinst, args: []string{"abort-upgrade", "0.0.2"}, systemd: true, accounts: true,
			calls: reload},
		{name: "postinst with an unknown argument", script: postinst, args: []string{"bogus"}, systemd: true, rc: 1},
		// dpkg: prerm
		{name: "deb prerm upgrade", script: prerm, args: []string{"upgrade", "0.0.2"}, systemd: true, setup: state,
			exist: cat(stateKept, enabled)},
		{name: "deb prerm failed-upgrade", script: prerm, args: []string{"failed-upgrade", "0.0.1"}, systemd: true, setup: state,
			exist: cat(stateKept, enabled)},
		{name: "deb prerm remove", script: prerm, args: []string{"remove"}, systemd: true, setup: state,
			calls: stop, exist: cat(stateKept, enabled, others)},
		{name: "deb prerm remove in a chroot", script: prerm, args: []string{"remove"}, setup: state,
			exist: cat(stateKept, enabled)},
		// dpkg: postrm
		{name: "deb postrm upgrade", script: postrm, args: []string{"upgrade", "0.0.2"}, systemd: true, setup: state,
			exist: cat(stateKept, enabled)},
		{name: "deb postrm remove", script: postrm, args: []string{"remove"}, systemd: true, setup: state,
			calls: reload, exist: cat(stateKept, enabled, others)},
		{name: "deb postrm purge", script: postrm, args: []string{"purge"}, systemd: true, setup: state,
			calls: reload, gone: cat(stateGone, enabled), exist: others},
		{name: "deb postrm purge keeps other apps' configs", script: postrm, args: []string{"purge"}, systemd: true,
			setup: state + "echo '[app]' >/etc/gateway/shop.toml\n",
			calls: reload, gone: []string{"/var/lib/gateway", "/run/gateway"}, exist: []string{"/etc/gateway/shop.toml"}},
		{name: "deb postrm purge in a chroot", script: postrm, args: []string{"purge"}, setup: state,
			gone: cat(stateGone, enabled), exist: others},
		// rpm: %post, %preun, %postun
		{name: "rpm install", script: postinst, args: []string{"1"}, systemd: true,
			calls: cat(accounts, reload)},
		{name: "rpm upgrade", script: postinst, args: []string{"2"}, systemd: true, accounts: true,
			calls: cat(reload, restart)},
		{name: "rpm install in a chroot", script: postinst, args: []string{"1"},
			calls: accounts},
		{name: "rpm preun upgrade", script: prerm, args: []string{"1"}, systemd: true, setup: state,
			exist: cat(stateKept, enabled)},
		{name: "rpm preun erase", script: prerm, args: []string{"0"}, systemd: true, setup: state,
			calls: stop, gone: enabled, exist: cat(stateKept, others)},
		{name: "rpm postun upgrade", script: postrm, args: []string{"1"}, systemd: true, setup: state,
			exist: cat(stateKept, enabled)},
		{name: "rpm postun erase", script: postrm, args: []string{"0"}, systemd: true, setup: state,
			calls: reload, exist: stateKept},
	}
	for _, sh := range shells() {
		for _, tc := range tests {
			t.Run(sh[0]+"/"+tc.name, func(t *testing.T) {
				out := t.TempDir()
				log := filepath.Join(out, "calls")
				env := append(os.Environ(),
					"SHIMS="+shims, "SHIM_LOG="+log, "SHIM_ACCOUNTS="+filepath.Join(out, "accounts"),
					"CASE_OUT="+out, "CASE_SCRIPT="+tc.script, "CASE_SHELL="+strings.Join(sh, " "),
					"CASE_SETUP="+tc.setup, "CASE_SYSTEMD="+flag(tc.systemd), "CASE_ACCOUNTS="+flag(tc.accounts))
				env = append(slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, "DPKG_ROOT=") }), tc.env...)
				cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "sh", runnerPath}, tc.args...)...)
				cmd.Env = env
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("unshare: %v\n%s", err, b)
				}
				stderr := readOr(out, "stderr")
				if rc, _ := strconv.Atoi(strings.TrimSpace(readOr(out, "rc"))); rc != tc.rc {
					t.Errorf("%s %q: exit status %d, want %d; stderr:\n%s", tc.script, tc.args, rc, tc.rc, stderr)
				}
				calls := lines(readOr(out, "calls"))
				if !slices.Equal(calls, tc.calls) {
					t.Errorf("%s %q: calls\n got %q\nwant %q", tc.script, tc.args, calls, tc.calls)
				}
				tree := lines(readOr(out, "tree"))
				for _, p := range tc.exist {
					if !slices.Contains(tree, p) {
						t.Errorf("%s %q: %s is gone, want it kept", tc.script, tc.args, p)
					}
				}
				for _, p := range tc.gone {
					if slices.Contains(tree, p) {
						t.Errorf("%s %q: %s is still there, want it removed", tc.script, tc.args, p)
					}
				}
			})
		}
	}
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func readOr(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return string(b)
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
