package confine

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Ending is what Terminate needs to end the process a harness started.
type Ending struct {
	Process *os.Process     // the manager or systemd-nspawn
	What    string          // what to call it in messages, e.g. "the manager"
	Exited  <-chan struct{} // closed once Process has been reaped
	Grace   time.Duration   // from SIGTERM to Step
	// Step is the harness's own way to help a process that SIGTERM did not
	// end within Grace, before it gets SIGKILL itself: sdtest kills what
	// the manager runs, so that the manager reaps it; nspawn kills the
	// container's PID 1. It logs what it does.
	Step func()
}

// Terminate ends e.Process and waits until it is reaped: SIGTERM; after
// e.Grace, e.Step; after Timeout, SIGKILL; after Timeout again, an error.
// The harnesses' own teardown comes first this way (a manager stops its
// units, systemd-nspawn powers the container off), and the harsher steps
// only when it hangs. What is left in the cgroups afterwards is Remove's.
func (h Harness) Terminate(e Ending, logf Logf) error {
	pid := e.Process.Pid
	select {
	case <-e.Exited:
		return nil
	default:
	}
	if err := e.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		logf("%s: SIGTERM to %s (pid %d): %v", h.Name, e.What, pid, err)
	}
	select {
	case <-e.Exited:
		return nil
	case <-time.After(e.Grace):
	}
	if e.Step != nil {
		e.Step()
	}
	select {
	case <-e.Exited:
		return nil
	case <-time.After(h.Timeout):
	}
	logf("%s: %s (pid %d) still runs; SIGKILL", h.Name, e.What, pid)
	if err := e.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		logf("%s: SIGKILL to %s (pid %d): %v", h.Name, e.What, pid, err)
	}
	select {
	case <-e.Exited:
		return nil
	case <-time.After(h.Timeout):
		return fmt.Errorf("%s (pid %d) did not exit %v after SIGKILL", e.What, pid, h.Timeout)
	}
}
