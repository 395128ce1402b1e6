// Package confine holds what the two test harnesses that start a real
// systemd, tests/sdtest (a systemd --user manager) and tests/nspawn (Debian
// booted under systemd-nspawn), do around the process they start so that it
// stays confined, and so that nothing of it is left afterwards.
//
// It exists because a systemd manager started from the root cgroup takes
// the whole tree: it moves every process of the machine, PID 1 included,
// into its init.scope. Each harness therefore starts a script that first
// moves itself into a fresh cgroup /PREFIX<PID> of its own in both the
// name=systemd and the cgroup2 hierarchy, checks that it is there, and only
// then execs the manager (or systemd-nspawn). The scripts, and everything
// else that differs, stay in the harnesses; the logic that is the same for
// both lives here, once, so that a fix to a safety check reaches both:
//
//   - which cgroup hierarchies are mounted, and whether the layout is the
//     hybrid one the scripts rely on (CgroupMounts, CheckHybrid);
//   - where a process is (ProcCgroups, InCgroup) and whether, after the
//     start, the started processes are confined and PID 1 has not moved
//     (Guard);
//   - ending the started process in steps, SIGTERM first, SIGKILL last
//     (Harness.Terminate), with the harness's own step in between;
//   - the teardown of a harness's cgroups (Harness): SIGKILL to what is left
//     in them, each process through a pidfd taken before its membership is
//     checked again, so that a PID reused meanwhile is never signalled; then
//     rmdir of the cgroup directories depth first (a cgroup directory is
//     removed only empty and only with rmdir);
//   - the sweep of cgroups that test processes which died without cleaning
//     up left behind (Harness.SweepStale), which never kills anything;
//   - starting the process from a locked OS thread, for Pdeathsig
//     (StartLocked), and skipping or failing a test whose requirements are
//     missing (Harness.Require, RequireEnv).
//
// It is a normal package, standard library only, so that both harnesses
// import it; tests of other packages use the harnesses, not this package.
// Nothing here starts a systemd manager, and nothing signals a process
// other than the one a harness started and what is in its own cgroups.
//
// The machines that run these tests are Debian 12 with systemd 252
// installed but not running as PID 1, with the hybrid cgroup layout
// (name=systemd at /sys/fs/cgroup/systemd, cgroup2 at
// /sys/fs/cgroup/unified); see the documentation of sdtest and nspawn.
package confine
