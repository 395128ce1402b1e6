package shim

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// EnvKeep makes the shim a keeper (the process runner's workers): the
// value is how long the worker gets to stop (a Go duration) if the gateway
// dies.
const EnvKeep = "GATEWAY_SHIM_KEEP"

// ParentDeathSignal is the keeper's parent-death signal (the runner sets
// it), a real-time signal of its own: the kernel sends it when the thread
// that forked the keeper ends, which in a Go program need not be the
// gateway's death, so it is only a cue to look, never relayed.
const ParentDeathSignal = syscall.Signal(40)

// relayed are the signals a keeper passes on to its worker's process
// group, so that signalling the worker's pid (which is the keeper's) stops
// an app under a wrapper (sh -c "app; …") as well.
var relayed = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGCONT}

// keep runs the worker as a child in the keeper's own process group and
// outlives it only to mirror its exit status. It exists because a process
// group survives its parent: when the gateway dies (even by SIGKILL, which
// no cleanup of its own can follow), the kernel's parent-death signal
// reaches the keeper alone, and the keeper ends the whole group. The
// systemd runner needs none of this: a scope's cgroup holds every process.
func keep(graceText string) int {
	grace, err := time.ParseDuration(graceText)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway shim: %s=%q: %v\n", EnvKeep, graceText, err)
		return 127
	}
	parent := os.Getppid()
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, append(relayed, ParentDeathSignal)...)
	os.Unsetenv(EnvKeep)
	child, err := startChild()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway shim: %v\n", err)
		return 127
	}
	done := make(chan struct{})
	go func() { child.Wait(); close(done) }()
	group := syscall.Getpgrp()
	echoes := map[syscall.Signal]int{} // our own relays, coming back to us
	tick := time.NewTicker(time.Second)
	for {
		select {
		case <-done:
			if os.Getppid() != parent {
				// It died of the gateway's death (a write to the closed
				// output pipe); what it left in the group must go too.
				orphaned(group, grace)
			}
			return mirror(child.ProcessState)
		case s := <-sigs:
			if os.Getppid() != parent {
				orphaned(group, grace)
			}
			sig := s.(syscall.Signal)
			if sig == ParentDeathSignal {
				continue
			}
			if echoes[sig] > 0 {
				echoes[sig]--
				continue
			}
			echoes[sig]++
			syscall.Kill(-group, sig)
		case <-tick.C:
			// If the parent-death signal fired early (its thread ended),
			// only this notices the death.
			if os.Getppid() != parent {
				orphaned(group, grace)
			}
		}
	}
}

// startChild starts this executable again as the plain shim, which sets
// LISTEN_PID to its own pid and execs the worker.
func startChild() (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	n, _ := strconv.Atoi(os.Getenv(EnvFDs))
	for fd := 3; fd < 3+n; fd++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(fd), "listener"))
	}
	err = cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close() // the worker has them; the keeper must not hold its sockets
	}
	return cmd, err
}

// orphaned ends the worker's group after the gateway died: SIGTERM, then
// SIGKILL (which ends the keeper too) once grace is over or only the
// keeper is left.
func orphaned(group int, grace time.Duration) {
	// Nothing is written: the gateway read our output, and a write to the
	// broken pipe would end a Go program by SIGPIPE before its work.
	signal.Ignore(syscall.SIGTERM, syscall.SIGPIPE)
	syscall.Kill(-group, syscall.SIGTERM)
	for end := time.Now().Add(grace); time.Now().Before(end) && GroupAlive(group, os.Getpid()); {
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(-group, syscall.SIGKILL)
	os.Exit(1)
}

// mirror ends the keeper as its child ended, so that the gateway sees the
// worker's own exit status ("signal: killed", "exit status 3").
func mirror(st *os.ProcessState) int {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return st.ExitCode()
	}
	sig := ws.Signal()
	// Back to the kernel's default action, and no core of the keeper.
	var dfl [4]uint64
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second)
	return 128 + int(sig) // a signal whose default is not to end a process
}
