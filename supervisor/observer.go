package supervisor

import "time"

// Observer is told of lifecycle events that the generations' states do not
// show afterwards (a retired or lost generation is gone from Generations),
// for metrics. Its methods are called on the supervisor's loop: they must
// return at once and must not call the Supervisor.
type Observer interface {
	// GenerationRetired: a detached generation has been stopped. drained is
	// how long it was detached; forced tells whether sessions or upgraded
	// connections were cut off (its drain time ran out, an admin forced it,
	// or its unit was stopped from outside) rather than it running out of
	// sessions.
	GenerationRetired(gen int, drained time.Duration, forced bool)
	// GenerationLost: a detached generation's last worker exited.
	GenerationLost(gen int)
	// SessionsLost: n sessions of gen ended without their users' doing.
	SessionsLost(gen int, cause LossCause, n int)
	// RolledBack: generation to is active again, from was detached (0:
	// none was active).
	RolledBack(from, to int)
	// CanaryEnded: the trial of canary gen ended, promoted to active or
	// aborted (by an admin, an upgrade or a rollback).
	CanaryEnded(gen int, promoted bool)
}

// LossCause says why sessions were lost.
type LossCause string

const (
	// LostCrash: the worker holding them exited, the generation lives on.
	LostCrash LossCause = "crash"
	// LostDrainDeadline: their detached generation's drain.max_time ran out.
	LostDrainDeadline LossCause = "drain-deadline"
	// LostForced: their generation was retired by force (an admin, or its
	// unit stopped from outside).
	LostForced LossCause = "forced"
	// LostGeneration: the last worker of their detached generation exited.
	LostGeneration LossCause = "lost-generation"
	// LostRestart: the gateway restarted and could not take over their
	// generation or worker.
	LostRestart LossCause = "restart"
	// LostGenerationLimit: an upgrade needed room under
	// drain.max_generations, and theirs was the oldest detached generation.
	LostGenerationLimit LossCause = "generation-limit"
)

// LossCauses lists every LossCause, e.g. to initialise counters.
var LossCauses = []LossCause{LostCrash, LostDrainDeadline, LostForced, LostGeneration, LostRestart, LostGenerationLimit, LostRollback, LostAbort}

type noObserver struct{}

func (noObserver) GenerationRetired(int, time.Duration, bool) {}
func (noObserver) GenerationLost(int)                         {}
func (noObserver) SessionsLost(int, LossCause, int)           {}
func (noObserver) RolledBack(int, int)                        {}
func (noObserver) CanaryEnded(int, bool)                      {}

// sessionsLost reports n lost sessions, if there are any.
func (s *Supervisor) sessionsLost(gen int, cause LossCause, n int) {
	if n > 0 {
		s.o.Observer.SessionsLost(gen, cause, n)
	}
}
