// Package sdtest starts a real, confined systemd user manager for
// integration tests and removes it afterwards.
//
// It is a normal package so that tests of other packages can import it; only
// _test files should. A test asks for a manager and talks to it as a user
// would, through systemctl, busctl or D-Bus:
//
//	m := sdtest.Start(t) // skips unless root with systemd installed
//	m.WriteUnit(t, "app.service", "[Service]\nExecStart=/bin/sh -c 'echo hello; exec sleep 60'\n")
//	m.MustSystemctl(t, "start", "app.service")
//	m.WaitLog(t, "]: hello", 5*time.Second) // the log line is "sh[PID]: hello"
//	cmd := m.Command("gatewayctl", "status") // env + XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS
//
// # The model
//
// The machines that run these tests are Debian 12 with systemd 252 installed
// but not running as PID 1, and the hybrid cgroup layout (name=systemd v1 at
// /sys/fs/cgroup/systemd, cgroup2 at /sys/fs/cgroup/unified). Start runs, in
// a new session,
//
//	unshare --mount --propagation private bash -c SCRIPT
//
// and SCRIPT, before anything else, moves its own process into a fresh cgroup
// /gwtest-PID in both hierarchies and refuses to go on unless it is really
// there and in a mount namespace of its own. Only then does it mount a private
// tmpfs on /run, create /run/systemd/system (the "booted with systemd" marker,
// see sd_booted(3)), bind /dev/null over /dev/console and exec
// /lib/systemd/systemd --user. The manager's PID is therefore the PID Start
// started, its cgroup root is /gwtest-PID (CgroupRoot), and nothing of the
// machine's /run, console or cgroup tree changes.
//
// A manager started from the root cgroup would move every process of the
// machine, PID 1 included, into its init.scope. That is why the move comes
// first and is checked, why Start checks afterwards that PID 1 has not moved,
// and why nothing here ever starts a manager otherwise.
//
// The manager's runtime directory ($XDG_RUNTIME_DIR, a fresh 0700 directory
// under /tmp) is on the normal file system, so the test process outside the
// namespace reaches the manager's private socket ($RT/systemd/private, used by
// systemctl --user) and the session bus ($RT/bus, socket-activated by the
// manager through dbus.socket of the package dbus-user-session; used by busctl
// --user and go-systemd's dbus.NewUserConnectionContext). Unit files for a
// test go in $RT/systemd/user (UnitDir), which is in the user manager's unit
// search path (systemd.unit(5), "$XDG_RUNTIME_DIR/systemd/user/").
//
// The manager's XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_STATE_HOME and
// XDG_CACHE_HOME point into the runtime directory too, so that root's
// ~/.config/systemd/user neither leaks into a test nor is changed by one
// (systemctl --user enable writes there). Units from /etc/systemd/user and
// /usr/lib/systemd/user are loaded as usual.
//
// # Logs: a stand-in for journald
//
// journald does not run here, and systemd 252 does not hand a service's
// output to the manager's stderr: with the default StandardOutput=journal a
// service that cannot reach the journal writes to /dev/null, and so does
// StandardOutput=inherit. So the harness serves journald's two sockets
// itself, from $RT/journal, which the manager's namespace links to
// /run/systemd/journal: the native protocol (the manager's own messages,
// --log-target=journal, and sd_journal_send of services, with memfds for
// large entries) and the stdout stream protocol (services' output, with
// "<N>" level prefixes). Units keep their default output settings and see
// JOURNAL_STREAM as under a real journald. Journal returns the entries with
// their fields; Log renders them as "IDENTIFIER[PID]: MESSAGE", after
// anything the manager process wrote to its own stdout or stderr.
//
// # Teardown
//
// Registered with t.Cleanup, or earlier with Stop: SIGTERM to the manager,
// which stops its units and exits; if it still runs after 10 s, SIGKILL to
// every other process in its cgroups (the manager, still alive, reaps them),
// then to the manager. Then SIGKILL to anything left in its cgroups (a
// process is signalled only through a pidfd after re-checking that it is in
// /gwtest-PID), removal of the cgroup directories depth first in every cgroup
// hierarchy, and of the runtime directory. What cannot be removed fails the
// test. The manager also gets SIGTERM if the test process dies (Pdeathsig),
// and Start removes empty gwtest-N cgroups and runtime directories left by
// test processes that are gone.
// The cgroup side of this (the confinement checks, the killing, the removal
// and the sweep of stale cgroups) is tests/confine, shared with
// tests/nspawn.
//
// # Requirements
//
// Root, the hybrid cgroup layout, bash and util-linux (unshare), and the
// Debian packages
//
//	systemd dbus dbus-user-session
//
// (/lib/systemd/systemd, systemctl, busctl and systemd-run come with systemd;
// /usr/bin/dbus-daemon with dbus-daemon, which dbus pulls in;
// /usr/lib/systemd/user/dbus.socket with dbus-user-session). When one is
// missing, Start skips the test and says what to install, unless
// GATEWAY_REQUIRE_SYSTEMD=1 is set (CI sets it): then it fails the test.
// Start never installs anything.
//
// # Seen with systemd 252.38 here
//
//   - The manager reports SystemState "running" (not "degraded") 120 to 250 ms
//     after Start runs it; its first own message is "Failed to connect to
//     system bus", which is expected (there is none) and harmless.
//   - systemctl --user is-system-running says "offline" from outside the
//     namespace, as it checks /run/systemd/system itself; Start asks for the
//     SystemState property instead.
//   - Scopes (systemd-run --user --scope) and services without Slice= land
//     in CgroupRoot()+"/app.slice"; dbus.service is in session.slice; the
//     manager itself is in init.scope.
//   - systemd-run expands "$" in its command line: write "$$" for a "$".
//   - The manager exits within milliseconds of SIGTERM when its units stop.
//
// See systemd(1), systemd.exec(5) (StandardOutput=), systemd.socket(5),
// sd_listen_fds(3), systemd-run(1), https://systemd.io/JOURNAL_NATIVE_PROTOCOL/
// and https://systemd.io/CGROUP_DELEGATION/.
package sdtest
