// Package supervisor owns the generation state machine of one app:
//
//	starting ──ready──▶ active ──upgrade──▶ detached ──idle──▶ retired
//	   │                   │                    │ (or drain deadline, or forced)
//	   └──fails──▶ failed  └──crash──▶ replaced └──crash──▶ lost
//
// A generation started by [Supervisor.UpgradeCanary] is put on trial
// instead, beside the active one, with a share of new sessions:
//
//	starting ──ready──▶ canary ──promote──▶ active (the old one detaches)
//	                       └──abort, an upgrade or a rollback──▶ detached
//
// A gateway restarted during a trial re-adopts the canary as detached: the
// share is not saved, and a trial nobody watches should not go on.
//
// One goroutine ([Supervisor.Run]) owns every generation; callers send it
// requests ([Supervisor.Upgrade], [Supervisor.Generations]) and the goroutines
// that start, watch and stop workers send it events. Nothing else changes a
// generation.
//
// It runs workers through a [Runner] (plain child processes in package
// process; transient systemd scopes in the systemd runner) and learns about
// traffic through [Traffic], which *proxy.Proxy satisfies (package daemon
// joins them).
// An optional [Observer] hears what the states do not keep (retired and lost
// generations, lost sessions), for metrics.
// Workers get their socket from the gateway before they start: a unix socket
// passed as fd 3 (sd_listen_fds(3)) or a loopback port in $PORT.
package supervisor
