package proxy

import (
	"net"
	"sync"
	"sync/atomic"
)

// genStats counts what keeps a generation alive. The counters are atomics
// because every request touches them; the map of instance pin counts and the
// held connections change rarely and sit behind mu.
type genStats struct {
	sessions atomic.Int64
	inFlight atomic.Int64
	upgraded atomic.Int64

	mu    sync.Mutex
	pins  map[int]int // instance → pinned sessions
	conns map[net.Conn]struct{}
}

func (s *genStats) instancePins(inst int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pins[inst]
}

func (s *genStats) hold(c net.Conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *genStats) release(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *genStats) held() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// statsTable holds genStats by generation; entries live from the first time
// a generation is routed to until the supervisor forgets it.
type statsTable struct {
	mu sync.RWMutex
	m  map[int]*genStats
}

func newStatsTable() *statsTable { return &statsTable{m: make(map[int]*genStats)} }

func (t *statsTable) get(gen int) *genStats {
	t.mu.RLock()
	s := t.m[gen]
	t.mu.RUnlock()
	if s != nil {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s = t.m[gen]; s == nil {
		s = &genStats{pins: map[int]int{}, conns: map[net.Conn]struct{}{}}
		t.m[gen] = s
	}
	return s
}

func (t *statsTable) lookup(gen int) *genStats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[gen]
}

func (t *statsTable) forget(gen int) {
	t.mu.Lock()
	delete(t.m, gen)
	t.mu.Unlock()
}

func (t *statsTable) pinned(gen, inst, delta int) {
	s := t.get(gen)
	s.sessions.Add(int64(delta))
	s.mu.Lock()
	s.pins[inst] += delta
	if s.pins[inst] <= 0 {
		delete(s.pins, inst)
	}
	s.mu.Unlock()
}
