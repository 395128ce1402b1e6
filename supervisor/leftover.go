package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/internal/shim"
)

// stopLeftovers stops what still runs of the previous gateway process's
// generations that were not re-adopted: a generation that was starting
// when it died, a process runner's worker outliving it (its keeper still
// giving it app.stop_timeout), or one whose keeper was killed too. Nobody
// would ever stop them, and they may hold the app's ports. A runner that
// stops whole generations (the systemd runner: the scope) does so; else a
// pid counts only if its environment names this app and generation, as the
// pid may belong to another process by now. It returns once all are gone.
func (s *Supervisor) stopLeftovers(st *stateFile, adopted map[int]*generation) {
	grace := s.cfg.App.StopTimeout.Duration
	stopper := s.o.Runner.Manager()
	byUnit := stopper != nil
	var wg sync.WaitGroup
	for _, g := range st.Generations {
		if adopted[g.ID] != nil {
			continue
		}
		log := s.log.With("generation", g.ID)
		if g.State == fleet.Starting {
			log.Info("the generation was starting when the previous gateway process ended; stopping it", "event", "leftover")
		}
		if byUnit {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(s.ctx, grace+30*time.Second)
				defer cancel()
				if err := stopper.StopGeneration(ctx, g.ID, grace); err != nil {
					log.Warn("stopping what is left of a generation of the previous gateway process failed", "event", "leftover", "error", err)
				}
			})
			continue
		}
		for _, in := range g.Instances {
			if !isWorkerOf(in.PID, s.cfg.App.Name, g.ID) {
				continue
			}
			log := log.With("instance", in.Index, "pid", in.PID)
			log.Warn("a worker of the previous gateway process still runs; stopping it", "event", "leftover")
			wg.Go(func() {
				if StopWorker(context.Background(), leftover(in.PID), grace) {
					log.Warn("a worker did not stop within app.stop_timeout; killed it (SIGKILL)", "event", "killed",
						"stop_timeout", grace)
				}
			})
		}
	}
	wg.Wait()
}

// isWorkerOf reports whether process pid, or what is left of the process
// group it led, runs with the environment the gateway gives the workers of
// app's generation gen.
func isWorkerOf(pid int, app string, gen int) bool {
	pids, _ := shim.GroupMembers(pid)
	return slices.ContainsFunc(append(pids, pid), func(p int) bool { return hasWorkerEnv(p, app, gen) })
}

func hasWorkerEnv(pid int, app string, gen int) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	var appOK, genOK bool
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		appOK = appOK || string(kv) == "GATEWAY_APP="+app
		genOK = genOK || string(kv) == "GATEWAY_GENERATION="+strconv.Itoa(gen)
	}
	return appOK && genOK
}

// leftover is a worker the gateway did not start and cannot wait for: it
// is signalled with its process group when it leads one (the process
// runner's keeper does), and polled for its end.
type leftover int

func (l leftover) PID() int       { return int(l) }
func (l leftover) Err() error     { return nil }
func (l leftover) Tail() []string { return nil }

// Signal signals the group first: it may outlive its leader. A pid in use
// that leads no group cannot be a group's id, so nobody else is hit.
func (l leftover) Signal(sig os.Signal) error {
	s := sig.(syscall.Signal)
	if err := syscall.Kill(-int(l), s); err != syscall.ESRCH {
		return err
	}
	return syscall.Kill(int(l), s)
}

func (l leftover) Done() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l.running() {
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return done
}

// running reports whether the process, or the group it leads, still has
// a live (not zombie) process.
func (l leftover) running() bool {
	if shim.GroupAlive(int(l), 0) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", int(l)))
	if err != nil {
		return false
	}
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	return len(f) > 0 && string(f[0]) != "Z"
}

// removeStaleSockets removes the worker sockets in the runtime directory
// of generations that are no longer served (left by a previous gateway
// process, whose workers are gone now).
func (s *Supervisor) removeStaleSockets(adopted map[int]*generation) {
	paths, _ := filepath.Glob(filepath.Join(s.cfg.Gateway.RuntimeDirectory, s.cfg.App.Name+"-gen*-*.sock"))
	for _, p := range paths {
		var gen, index int
		name := filepath.Base(p)[len(s.cfg.App.Name):]
		if n, _ := fmt.Sscanf(name, "-gen%d-%d.sock", &gen, &index); n != 2 || adopted[gen] != nil {
			continue
		}
		if err := os.Remove(p); err == nil {
			s.log.Info("removed a worker socket of the previous gateway process", "event", "stale-socket", "path", p)
		}
	}
}
