package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// pin routes one session. gen and inst never change after creation (a moved
// session gets a new pin), so readers need no lock once they hold the pointer.
type pin struct {
	gen, inst int
	lastSeen  atomic.Int64 // unix nanoseconds
}

// Pin is a pin as reported to the supervisor and persisted across restarts.
type Pin struct {
	Key        SessionKey
	Generation int
	Instance   int
	LastSeen   time.Time
}

// pinTable is read on every request and written only when sessions start,
// move or end, hence one RWMutex and atomic last-seen times.
//
// ended holds tombstones: sessions the gateway ended itself (an admin, a dead
// worker) whose affinity cookies must not bring them back before the cookies
// go stale by age.
type pinTable struct {
	mu    sync.RWMutex
	m     map[SessionKey]*pin
	ended map[SessionKey]int64 // → unix nanoseconds until which it stays ended
	stats *statsTable
}

func newPinTable(stats *statsTable) *pinTable {
	return &pinTable{m: make(map[SessionKey]*pin), ended: make(map[SessionKey]int64), stats: stats}
}

func (t *pinTable) isEnded(k SessionKey, now time.Time) bool {
	t.mu.RLock()
	until, ok := t.ended[k]
	t.mu.RUnlock()
	return ok && now.UnixNano() < until
}

// bury records tombstones for keys until the given time, and forgets the
// tombstones that have run out.
func (t *pinTable) bury(keys []SessionKey, now, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, u := range t.ended {
		if u <= now.UnixNano() {
			delete(t.ended, k)
		}
	}
	for _, k := range keys {
		t.ended[k] = until.UnixNano()
	}
}

func (t *pinTable) get(k SessionKey) *pin {
	t.mu.RLock()
	p := t.m[k]
	t.mu.RUnlock()
	return p
}

// set pins k to gen/inst and reports whether anything changed.
func (t *pinTable) set(k SessionKey, gen, inst int, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.m[k]; old != nil {
		if old.gen == gen && old.inst == inst {
			old.lastSeen.Store(now.UnixNano())
			return false
		}
		t.stats.pinned(old.gen, old.inst, -1)
	}
	p := &pin{gen: gen, inst: inst}
	p.lastSeen.Store(now.UnixNano())
	t.m[k] = p
	delete(t.ended, k)
	t.stats.pinned(gen, inst, +1)
	return true
}

func (t *pinTable) remove(k SessionKey) (*pin, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[k]
	if ok {
		delete(t.m, k)
		t.stats.pinned(p.gen, p.inst, -1)
	}
	return p, ok
}

// removeWhere deletes the pins match selects and returns their keys by
// generation.
func (t *pinTable) removeWhere(match func(*pin) bool) map[int][]SessionKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	removed := map[int][]SessionKey{}
	for k, p := range t.m {
		if match(p) {
			delete(t.m, k)
			t.stats.pinned(p.gen, p.inst, -1)
			removed[p.gen] = append(removed[p.gen], k)
		}
	}
	return removed
}

func (t *pinTable) list() []Pin {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Pin, 0, len(t.m))
	for k, p := range t.m {
		out = append(out, Pin{Key: k, Generation: p.gen, Instance: p.inst,
			LastSeen: time.Unix(0, p.lastSeen.Load())})
	}
	return out
}
