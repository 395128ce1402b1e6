package console

import (
	"sync"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// history is what the console remembers between requests: session counts
// per generation over the last window, and the generations that have
// disappeared since. Samples come from Run's ticks and from every page
// view; one less than minGap after the last but one replaces the last
// (at most two a second, the first of a burst kept). The ring is
// bounded: when it holds maxSamples, every second sample is dropped, so
// that a young gateway's sparklines have seconds of resolution and an
// hour's worth has tens of seconds, the oldest the coarsest.
type history struct {
	window time.Duration

	mu      sync.Mutex
	samples []sample // oldest first
	known   map[int]seen
	gone    []goneGen // oldest first
}

const (
	minGap     = time.Second
	maxSamples = 360
)

type sample struct {
	at     time.Time
	counts map[int]int // generation → pinned sessions
}

// seen is a generation as last observed.
type seen struct {
	revision string
	state    fleet.State
	started  time.Time
}

// goneGen is a generation that was listed once and is not any more:
// retired, failed to start, or lost.
type goneGen struct {
	id   int
	seen seen
	at   time.Time // when it was first missing
}

const maxGone = 8

func newHistory(window time.Duration) *history {
	return &history{window: window, known: map[int]seen{}}
}

// observe records one snapshot of the generations taken at now.
func (h *history) observe(now time.Time, gens []fleet.Generation) {
	counts := make(map[int]int, len(gens))
	current := make(map[int]seen, len(gens))
	for _, g := range gens {
		counts[g.ID] = g.Sessions
		current[g.ID] = seen{revision: g.Revision, state: g.State, started: g.Started}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.samples); n > 1 && now.Sub(h.samples[n-2].at) < minGap {
		h.samples[n-1] = sample{at: now, counts: counts}
	} else {
		h.samples = append(h.samples, sample{at: now, counts: counts})
	}
	cut := 0
	for cut < len(h.samples) && now.Sub(h.samples[cut].at) > h.window {
		cut++
	}
	h.samples = h.samples[cut:]
	if len(h.samples) > maxSamples {
		// Keep the last one and every second one before it.
		kept := h.samples[:0]
		for i, sm := range h.samples {
			if (len(h.samples)-1-i)%2 == 0 {
				kept = append(kept, sm)
			}
		}
		h.samples = kept
	}

	for id, s := range h.known {
		if _, ok := current[id]; !ok {
			h.gone = append(h.gone, goneGen{id: id, seen: s, at: now})
		}
	}
	h.known = current
	cut = 0
	for cut < len(h.gone) && (now.Sub(h.gone[cut].at) > h.window || len(h.gone)-cut > maxGone) {
		cut++
	}
	h.gone = h.gone[cut:]
}

// point is one sample of one generation.
type point struct {
	at       time.Time
	sessions int
}

// snapshot is the history as one page shows it.
type snapshot struct {
	from   time.Time         // the oldest sample
	series map[int][][]point // per generation, runs of consecutive samples it was listed in
	gone   []goneGen         // newest first
}

func (h *history) snapshot() snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := snapshot{series: map[int][][]point{}}
	if len(h.samples) > 0 {
		s.from = h.samples[0].at
	}
	last := map[int]int{} // generation → index of the sample it was last in
	for i, sm := range h.samples {
		for id, n := range sm.counts {
			runs := s.series[id]
			if j, ok := last[id]; !ok || j != i-1 {
				runs = append(runs, nil)
			}
			runs[len(runs)-1] = append(runs[len(runs)-1], point{sm.at, n})
			s.series[id] = runs
			last[id] = i
		}
	}
	for i := len(h.gone) - 1; i >= 0; i-- {
		s.gone = append(s.gone, h.gone[i])
	}
	return s
}
