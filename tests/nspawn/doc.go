// Package nspawn boots a whole Debian 12 under systemd-nspawn for
// end-to-end tests against a real system manager, system bus and journald.
//
// It is a normal package so that tests of other packages can import it; only
// _test files should. A test boots a machine and works inside it as an
// administrator would:
//
//	m := nspawn.Boot(t, nspawn.Options{ // skips unless root with systemd-nspawn and debootstrap
//		Binds: []nspawn.Bind{{Host: debDir, Container: "/pkg", ReadOnly: true}},
//	})
//	m.Shell(t, "dpkg -i /pkg/gateway_*.deb")
//	m.WriteFile(t, "/etc/gateway/gateway.toml", cfg, 0o644)
//	m.MustExec(t, "systemctl", "reload", "gateway.service")
//	m.WaitJournal(t, "reloaded", 10*time.Second, "-u", "gateway.service")
//
// # The model
//
// The machines that run these tests are Debian 12 with systemd 252
// installed but not running as PID 1, and the hybrid cgroup layout
// (name=systemd at /sys/fs/cgroup/systemd, cgroup2 at
// /sys/fs/cgroup/unified).
//
// The root file system is built once with
//
//	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,ca-certificates[,EXTRA…] bookworm
//
// into CacheDir (/var/cache/gateway-tests/rootfs-bookworm-HASH/root, HASH
// of the package list), in a private mount namespace, under a lock file so
// that test processes running at the same time build it once, and renamed
// into place when complete. Downloaded packages and package lists are
// removed (the container has no network) and /etc/machine-id is emptied.
// Nothing ever writes to a finished cache.
//
// Each Boot makes a boot directory /var/tmp/gwnspawn-*, mounts an overlayfs
// at its root/ (Root) with the cached tree as the lower layer and its
// upper/ for what this boot changes (where overlayfs is refused: a copy
// made with cp -a --reflink=auto, 1 to 3 s here), writes a host name and a
// fresh machine ID, and runs, in a new session,
//
//	unshare --mount --propagation private bash -c SCRIPT
//
// SCRIPT, before anything else, moves its own process into a fresh cgroup
// /gwnspawn-PID in both hierarchies and refuses to go on unless it is really
// there and in a mount namespace of its own. Only then does it mount a
// private tmpfs on /run (where systemd-nspawn keeps its locks) and exec
//
//	systemd-nspawn --directory=ROOT --machine=gw-TESTPID-N --boot --register=no --keep-unit
//	  --private-network --console=read-only --link-journal=no --settings=no
//	  --kill-signal=SIGRTMIN+4 [--bind=…|--bind-ro=…]
//
// which keeps the PID (CgroupRoot is /gwnspawn-PID), moves itself to
// /gwnspawn-PID/supervisor and the container to /gwnspawn-PID/payload, the
// container's cgroup namespace root. A system manager started from the root
// cgroup would move every process of the machine, PID 1 included, into its
// init.scope; that is why the move comes first and is checked, and why Boot
// checks afterwards that PID 1 has not moved. Bind mounts exist only in
// the container's mount namespace, never on the host.
//
// By default the container sees cgroup2 only, at /sys/fs/cgroup, as a stock
// Debian 12 does: systemd-nspawn would otherwise copy the host's hybrid
// layout (Options.HybridCgroups), and it is told not to with
// SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 (=0 would mean v1 only). In both
// layouts the container's systemd owns its subtree of the host's cgroup2
// hierarchy (and of name=systemd in the hybrid one), so transient scopes
// (StartTransientUnit over the system bus, systemd-run --scope) work
// inside. The host's cgroup2 hierarchy has no controllers (they are all
// bound to v1), so the container has none either.
//
// Boot finds the container's PID 1 (Leader: the child of systemd-nspawn
// that runs systemd in a PID namespace of its own) and polls
// `systemctl is-system-running` inside until it says "running" (or
// "degraded": then it logs the failed units). Exec runs commands with
// `nsenter --target LEADER --all`, i.e. in every namespace of the
// container, with a clean environment. The container's console output goes
// to a log file (Console), printed at teardown when the test failed (or
// always with GATEWAY_NSPAWN_CONSOLE=1), after the end of the container's
// journal.
//
// # Teardown
//
// Registered with t.Cleanup, or earlier with Stop: SIGTERM to
// systemd-nspawn, which sends SIGRTMIN+4 (poweroff) to the container's
// systemd; after 30 s SIGKILL to the container's PID 1, which ends its PID
// namespace, then to systemd-nspawn. Then SIGKILL to anything left in
// /gwnspawn-PID (a process is signalled only through a pidfd after
// re-checking that it is there), removal of the cgroups depth first in every
// hierarchy, unmounting of the overlayfs, and removal of the boot directory
// (refused if anything is still mounted below it). What cannot be removed
// fails the test. If the test process dies, systemd-nspawn gets SIGTERM
// (Pdeathsig) and powers the container off; the next Boot removes empty
// gwnspawn-N cgroups, and unmounts and removes the boot directories whose
// test process and systemd-nspawn are gone.
// The cgroup side of this (the confinement checks, the killing, the removal
// and the sweep of stale cgroups) is tests/confine, shared with
// tests/sdtest.
//
// # Requirements
//
// Root, the hybrid cgroup layout, and the Debian packages
//
//	systemd-container debootstrap
//
// (systemd-nspawn comes with systemd-container; nsenter and unshare with
// util-linux), and, for the first build of a cache, the Debian mirror
// (http://deb.debian.org/debian, or $GATEWAY_NSPAWN_MIRROR). When a
// requirement is missing, Boot skips the test and says what to install,
// unless GATEWAY_REQUIRE_SYSTEMD=1 is set (CI sets it): then it fails the
// test. Boot never installs anything on the host.
//
// # Seen with systemd 252.39 here (2 cores)
//
//   - The first build of the cache takes about 40 s. With a warm cache,
//     Boot returns 0.3 to 0.4 s after it is called ("running", no failed
//     unit; the overlayfs takes under 1 ms); teardown takes 0.1 to 0.2 s.
//   - Commands run with Exec live in the test's own cgroup (outside the
//     container's cgroup namespace root) but in the container's PID
//     namespace; the container's systemd moves them into a scope all the
//     same (StartTransientUnit with their PID works). What they leave
//     running is reparented to the container's PID 1.
//   - nsenter itself stays in the host's PID namespace. Killed before its
//     child, it would leave that child to the host's init, a zombie in the
//     container that systemd-shutdown waits 10 s for at poweroff; so a
//     cancelled ExecContext kills the child first (killGroupBut).
//   - dbus-daemon logs "Failed to set fd limit to 65536: Operation not
//     permitted" at boot; it is harmless. The hybrid layout adds "Failed to
//     create symlink /sys/fs/cgroup/cpu: File exists" and the like on the
//     console, also harmless.
//
// See systemd-nspawn(1), systemd(1) (signals), debootstrap(8), nsenter(1),
// overlayfs (Documentation/filesystems/overlayfs.rst).
package nspawn
