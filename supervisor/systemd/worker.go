package systemd

import (
	"os"
	"os/exec"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// childWorker is a worker this gateway process started (the shim's child).
type childWorker struct {
	cmd  *exec.Cmd
	unit string
	user bool
	done chan struct{}
	err  error
}

func newChildWorker(cmd *exec.Cmd, unit string, user bool) *childWorker {
	w := &childWorker{cmd: cmd, unit: unit, user: user, done: make(chan struct{})}
	go func() {
		w.err = cmd.Wait()
		close(w.done)
	}()
	return w
}

func (w *childWorker) PID() int                   { return w.cmd.Process.Pid }
func (w *childWorker) Done() <-chan struct{}      { return w.done }
func (w *childWorker) Err() error                 { return w.err }
func (w *childWorker) Signal(sig os.Signal) error { return w.cmd.Process.Signal(sig) }
func (w *childWorker) Tail() []string             { return journalTail(w.unit, w.user) }

// adoptedWorker is a worker of a previous gateway process: not our child,
// so its exit is watched through a pidfd (which, unlike a pid, cannot be
// reused by another process). The pidfd is closed once the process has
// exited; Signal then says so rather than use a number another file may
// have by now.
type adoptedWorker struct {
	pid  int
	unit string
	user bool
	done chan struct{}

	mu sync.Mutex
	fd int // -1 once closed
}

func adoptPID(pid int, unit string, user bool) (*adoptedWorker, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, err
	}
	w := &adoptedWorker{pid: pid, fd: fd, unit: unit, user: user, done: make(chan struct{})}
	go func() {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if n > 0 || err != nil {
				break
			}
		}
		w.mu.Lock()
		unix.Close(w.fd)
		w.fd = -1
		w.mu.Unlock()
		close(w.done)
	}()
	return w, nil
}

func (w *adoptedWorker) PID() int              { return w.pid }
func (w *adoptedWorker) Done() <-chan struct{} { return w.done }

// Err cannot know the exit status of a process that is not our child.
func (w *adoptedWorker) Err() error { return nil }

func (w *adoptedWorker) Signal(sig os.Signal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return os.ErrProcessDone
	}
	return unix.PidfdSendSignal(w.fd, sig.(unix.Signal), nil, 0)
}

func (w *adoptedWorker) Tail() []string { return journalTail(w.unit, w.user) }

// journalTail reads a scope's last output lines from the journal, for
// error reports; where there is no journal it says where to look.
func journalTail(unit string, user bool) []string {
	flag := "--unit=" + unit
	if user {
		flag = "--user-unit=" + unit
	}
	out, err := exec.Command("journalctl", flag, "-n", "20", "-o", "cat", "--no-pager", "-q").Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(out) == 0 {
		return []string{"(the worker's output goes to the journal: journalctl " + flag + ")"}
	}
	return lines
}
