package chaos

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Figures is what a run counted.
type Figures struct {
	Requests           int64
	Logins             int64
	FailedKilledWorker int64 // on a worker the driver killed
	FailedGatewayKill  int64 // in flight when gatewayd was killed
	FailedLimit        int64 // on a generation retired by drain.max_generations
	FailedOther        int64 // must be 0
	Misroutes          int64 // a live session answered by another worker: must be 0
	LostKilled         int64 // sessions that were on a killed worker
	LostLimit          int64 // on a generation retired by drain.max_generations
	LostOther          int64 // must be 0
	Examples           []string
}

// Failed is every failed request.
func (f Figures) Failed() int64 {
	return f.FailedKilledWorker + f.FailedGatewayKill + f.FailedLimit + f.FailedOther
}

// Violations lists what must not happen, with examples.
func (f Figures) Violations() []string {
	var v []string
	if f.Misroutes > 0 {
		v = append(v, fmt.Sprintf("%d misroutes", f.Misroutes))
	}
	if f.FailedOther > 0 {
		v = append(v, fmt.Sprintf("%d failed requests no kill explains", f.FailedOther))
	}
	if f.LostOther > 0 {
		v = append(v, fmt.Sprintf("%d sessions lost on workers nobody killed", f.LostOther))
	}
	if f.Logins == 0 {
		v = append(v, "no login succeeded")
	}
	if len(v) > 0 {
		v = append(v, f.Examples...)
	}
	return v
}

func (f Figures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "requests                      %d\n", f.Requests)
	fmt.Fprintf(&b, "logins (sessions)             %d\n", f.Logins)
	fmt.Fprintf(&b, "failed requests               %d\n", f.Failed())
	fmt.Fprintf(&b, "  on a killed worker          %d\n", f.FailedKilledWorker)
	fmt.Fprintf(&b, "  in flight at a gateway kill %d\n", f.FailedGatewayKill)
	fmt.Fprintf(&b, "  on a generation over limit  %d\n", f.FailedLimit)
	fmt.Fprintf(&b, "  other (must be 0)           %d\n", f.FailedOther)
	fmt.Fprintf(&b, "misroutes (must be 0)         %d\n", f.Misroutes)
	fmt.Fprintf(&b, "sessions lost                 %d\n", f.LostKilled+f.LostLimit+f.LostOther)
	fmt.Fprintf(&b, "  on a killed worker          %d\n", f.LostKilled)
	fmt.Fprintf(&b, "  on a generation over limit  %d\n", f.LostLimit)
	fmt.Fprintf(&b, "  other (must be 0)           %d\n", f.LostOther)
	return b.String()
}

// figures counts under a lock: the counts are small (a request costs a
// round trip through two processes), and examples need one anyway.
type figures struct {
	mu sync.Mutex
	requests, logins, failedKilledWorker, failedGatewayKill, failedLimit, failedOther,
	misroutes, lostKilled, lostLimit, lostOther int64
	examples []string
}

func (f *figures) add(n *int64) {
	f.mu.Lock()
	*n++
	f.mu.Unlock()
}

// note counts a violation and keeps its first examples.
func (f *figures) note(n *int64, example string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*n++
	if len(f.examples) < 10 {
		f.examples = append(f.examples, time.Now().Format("15:04:05.000 ")+example)
	}
}

func (f *figures) snapshot() Figures {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Figures{Requests: f.requests, Logins: f.logins, FailedKilledWorker: f.failedKilledWorker,
		FailedGatewayKill: f.failedGatewayKill, FailedLimit: f.failedLimit, FailedOther: f.failedOther,
		Misroutes: f.misroutes, LostKilled: f.lostKilled, LostLimit: f.lostLimit, LostOther: f.lostOther, Examples: append([]string(nil), f.examples...)}
}

// kills is what the driver killed, and when.
type kills struct {
	mu       sync.Mutex
	workers  map[int]time.Time
	gateways []time.Time
}

func (k *kills) worker(pid int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.workers == nil {
		k.workers = map[int]time.Time{}
	}
	k.workers[pid] = time.Now()
}

func (k *kills) gateway() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gateways = append(k.gateways, time.Now())
}

func (k *kills) workerDead(pid int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.workers[pid]
	return ok
}

func (k *kills) workerKilledWithin(from, to time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, at := range k.workers {
		if !at.Before(from) && !at.After(to) {
			return true
		}
	}
	return false
}

// gatewayKilledWithin: a request that started before a kill and failed
// after it was in flight on the killed gatewayd (or queued for it).
func (k *kills) gatewayKilledWithin(from, to time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, at := range k.gateways {
		if !at.Before(from.Add(-10*time.Millisecond)) && !at.After(to) {
			return true
		}
	}
	return false
}
