// Package process runs workers as plain child processes: the runner that
// works everywhere (a laptop, a container, a machine without systemd).
//
// Each worker is the gateway's own binary in shim mode (package
// internal/shim), which sets LISTEN_PID to its own pid and execs the
// worker. Workers get their own process group, so a Ctrl-C on the
// gateway's terminal reaches only the gateway, which then stops them in
// order; and the kernel sends them SIGTERM if the gateway dies, since no
// other gateway could adopt them.
package process
