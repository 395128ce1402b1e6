// Package shim is the tiny first stage of every worker: the gateway starts
// its own binary in shim mode, the shim sets the socket-activation variables
// to its own pid (sd_listen_fds(3) wants LISTEN_PID to be the worker's pid,
// which the gateway cannot know before the fork), optionally waits for the
// gateway's go-ahead (the systemd runner moves it into its scope first), and
// execs the worker. From then on the worker is the same process. Under the
// process runner a keeper comes first (keeper.go): it stays the worker's
// parent and ends the worker's process group if the gateway dies.
package shim

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// Environment variables by which the gateway drives the shim.
const (
	EnvShim    = "GATEWAY_SHIM"         // "1": run as the shim
	EnvFDs     = "GATEWAY_SHIM_FDS"     // number of listening fds from 3 on
	EnvFDNames = "GATEWAY_SHIM_FDNAMES" // their names, colon-separated
	EnvWaitFD  = "GATEWAY_SHIM_WAIT_FD" // read one byte from this fd before exec
	EnvJournal = "GATEWAY_SHIM_JOURNAL" // connect stdout/stderr to the journal with this identifier
)

// Active reports whether this process was started as a shim.
func Active() bool { return os.Getenv(EnvShim) == "1" }

// Main execs the worker in os.Args[1:]. It returns only on failure, with
// the process's exit code (127, as a shell's for a command it cannot run).
func Main() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "gateway shim: no worker command")
		return 127
	}
	if grace := os.Getenv(EnvKeep); grace != "" {
		return keep(grace)
	}
	if err := prepare(); err != nil {
		fmt.Fprintf(os.Stderr, "gateway shim: %v\n", err)
		return 127
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway shim: %v\n", err)
		return 127
	}
	err = syscall.Exec(path, os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "gateway shim: exec %s: %v\n", path, err)
	return 127
}

func prepare() error {
	if fd := os.Getenv(EnvWaitFD); fd != "" {
		if err := await(fd); err != nil {
			return err
		}
	}
	if id := os.Getenv(EnvJournal); id != "" {
		connectJournal(id) // best effort: without a journal, output stays where it was
	}
	fds, names := os.Getenv(EnvFDs), os.Getenv(EnvFDNames)
	for _, k := range []string{EnvShim, EnvFDs, EnvFDNames, EnvWaitFD, EnvJournal} {
		os.Unsetenv(k)
	}
	if fds == "" || fds == "0" {
		return nil
	}
	os.Setenv("LISTEN_FDS", fds)
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	if names != "" {
		os.Setenv("LISTEN_FDNAMES", names)
	}
	return nil
}

// await blocks until the gateway writes a byte (go ahead) or closes the
// pipe without one (give up).
func await(fdText string) error {
	fd, err := strconv.Atoi(fdText)
	if err != nil {
		return fmt.Errorf("%s=%q: not an fd", EnvWaitFD, fdText)
	}
	f := os.NewFile(uintptr(fd), "go-ahead")
	defer f.Close()
	var b [1]byte
	if n, _ := f.Read(b[:]); n != 1 {
		return fmt.Errorf("the gateway gave up before the worker could start")
	}
	return nil
}
