package proxy

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// PinChange is the state of one pin as the pin store persists it: where the
// session is pinned, or Generation 0 when it is not pinned any more.
type PinChange struct {
	Key        fleet.SessionKey
	Generation uint32
	Instance   uint32
	LastSeen   int64 // unix nanoseconds
}

// pinShards spreads the pins over this many locks, so that sessions starting
// and ending on some connections do not hold up requests on others, and so
// that a sweep holds one lock for a 256th of the pins at a time.
const pinShards = 256

// pinTable is read on every request and written when sessions start, move or
// end. Its memory is pointer-free (a map of fixed-size keys to slot indexes,
// and the slots), so that a million pins cost the garbage collector nothing
// to scan; last-seen times are atomics written under the read lock.
//
// Every change is remembered as dirty until the pin store takes it (see
// takeChanges): a key in a shard's dirty list means "persist this key's
// current state".
//
// ended holds tombstones: sessions the gateway ended itself (an admin, a dead
// worker) whose affinity cookies must not bring them back before the cookies
// go stale by age.
type pinTable struct {
	shards [pinShards]pinShard
	stats  *statsTable
	count  atomic.Int64
	// stale is how far a last-seen time may move on before the pin store
	// is told about it: persisted last-seen times lag by at most this.
	stale int64

	endedMu sync.Mutex
	ended   map[fleet.SessionKey]int64 // → unix nanoseconds until which it stays ended
	endedN  atomic.Int64               // len(ended): set skips endedMu while it is 0
}

type pinShard struct {
	mu    sync.RWMutex
	idx   map[fleet.SessionKey]uint32 // → index in slots
	slots []pinSlot
	free  []uint32

	dirtyMu sync.Mutex // taken under mu, read-locked or not
	dirty   []fleet.SessionKey

	_ [64]byte // keeps neighbouring shards' locks off one cache line
}

// pinSlot is one pin; gen 0 marks a free slot.
type pinSlot struct {
	key   fleet.SessionKey
	gen   uint32
	inst  uint32
	seen  atomic.Int64 // unix nanoseconds
	dirty atomic.Uint32
}

func newPinTable(stats *statsTable, stale time.Duration) *pinTable {
	t := &pinTable{stats: stats, stale: max(int64(stale), 1), ended: make(map[fleet.SessionKey]int64)}
	for i := range t.shards {
		t.shards[i].idx = make(map[fleet.SessionKey]uint32)
	}
	return t
}

func (t *pinTable) shard(k fleet.SessionKey) *pinShard { return &t.shards[k[0]] }

// lookup returns where k is pinned and marks it seen at now.
func (t *pinTable) lookup(k fleet.SessionKey, now time.Time) (gen, inst int, ok bool) {
	sh := t.shard(k)
	sh.mu.RLock()
	i, ok := sh.idx[k]
	if ok {
		s := &sh.slots[i]
		gen, inst = int(s.gen), int(s.inst)
		t.touch(sh, s, now.UnixNano())
	}
	sh.mu.RUnlock()
	return gen, inst, ok
}

// touch records a use of s. Its last-seen time becomes dirty only when it
// crosses into a new period of t.stale, at most once per period per pin.
func (t *pinTable) touch(sh *pinShard, s *pinSlot, now int64) {
	if old := s.seen.Swap(now); old/t.stale != now/t.stale {
		sh.markDirty(s)
	}
}

// markDirty queues s's key for the store unless it is queued already.
func (sh *pinShard) markDirty(s *pinSlot) {
	if s.dirty.CompareAndSwap(0, 1) {
		sh.dirtyMu.Lock()
		sh.dirty = append(sh.dirty, s.key)
		sh.dirtyMu.Unlock()
	}
}

// peek returns where k is pinned without marking it seen.
func (t *pinTable) peek(k fleet.SessionKey) (gen, inst int, ok bool) {
	sh := t.shard(k)
	sh.mu.RLock()
	i, ok := sh.idx[k]
	if ok {
		gen, inst = int(sh.slots[i].gen), int(sh.slots[i].inst)
	}
	sh.mu.RUnlock()
	return gen, inst, ok
}

// set pins k to gen/inst and reports whether anything changed.
func (t *pinTable) set(k fleet.SessionKey, gen, inst int, now time.Time) bool {
	sh := t.shard(k)
	sh.mu.Lock()
	changed := t.setLocked(sh, k, gen, inst, now.UnixNano(), true)
	sh.mu.Unlock()
	if changed && t.endedN.Load() > 0 {
		t.endedMu.Lock()
		delete(t.ended, k)
		t.endedN.Store(int64(len(t.ended)))
		t.endedMu.Unlock()
	}
	return changed
}

// setLocked is set under sh.mu; dirty says whether the store must hear of it
// (not for pins it loaded itself).
func (t *pinTable) setLocked(sh *pinShard, k fleet.SessionKey, gen, inst int, seen int64, dirty bool) bool {
	if i, ok := sh.idx[k]; ok {
		s := &sh.slots[i]
		if int(s.gen) == gen && int(s.inst) == inst {
			t.touch(sh, s, seen)
			return false
		}
		t.stats.pinned(int(s.gen), int(s.inst), -1)
		s.gen, s.inst = uint32(gen), uint32(inst)
		s.seen.Store(seen)
		if dirty {
			sh.markDirty(s)
		}
		t.stats.pinned(gen, inst, +1)
		return true
	}
	var i uint32
	if n := len(sh.free); n > 0 {
		i, sh.free = sh.free[n-1], sh.free[:n-1]
	} else {
		sh.slots = append(sh.slots, pinSlot{})
		i = uint32(len(sh.slots) - 1)
	}
	s := &sh.slots[i]
	s.key, s.gen, s.inst = k, uint32(gen), uint32(inst)
	s.seen.Store(seen)
	s.dirty.Store(0)
	if dirty {
		sh.markDirty(s)
	}
	sh.idx[k] = i
	t.count.Add(1)
	t.stats.pinned(gen, inst, +1)
	return true
}

// remove ends k's pin and returns its generation.
func (t *pinTable) remove(k fleet.SessionKey) (gen int, ok bool) {
	sh := t.shard(k)
	sh.mu.Lock()
	i, ok := sh.idx[k]
	if ok {
		gen = int(sh.slots[i].gen)
		t.removeLocked(sh, i, true)
	}
	sh.mu.Unlock()
	return gen, ok
}

func (t *pinTable) removeLocked(sh *pinShard, i uint32, dirty bool) {
	s := &sh.slots[i]
	t.stats.pinned(int(s.gen), int(s.inst), -1)
	if dirty {
		sh.markDirty(s) // the slot is cleared next: its flag goes with it
	}
	delete(sh.idx, s.key)
	*s = pinSlot{}
	sh.free = append(sh.free, i)
	t.count.Add(-1)
}

// removeWhere deletes the pins match selects, one shard at a time (a request
// waits for at most one shard's scan), and returns their keys by generation.
func (t *pinTable) removeWhere(match func(gen, inst int, seen int64) bool) map[int][]fleet.SessionKey {
	removed := map[int][]fleet.SessionKey{}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for j := range sh.slots {
			s := &sh.slots[j]
			if s.gen != 0 && match(int(s.gen), int(s.inst), s.seen.Load()) {
				removed[int(s.gen)] = append(removed[int(s.gen)], s.key)
				t.removeLocked(sh, uint32(j), true)
			}
		}
		sh.mu.Unlock()
	}
	return removed
}

// each calls fn with the pins of one shard at a time, in a buffer reused
// between calls; it stops at fn's first error.
func (t *pinTable) each(fn func([]PinChange) error) error {
	var buf []PinChange
	for i := range t.shards {
		sh := &t.shards[i]
		buf = buf[:0]
		sh.mu.RLock()
		for j := range sh.slots {
			if s := &sh.slots[j]; s.gen != 0 {
				buf = append(buf, PinChange{Key: s.key, Generation: s.gen, Instance: s.inst, LastSeen: s.seen.Load()})
			}
		}
		sh.mu.RUnlock()
		if err := fn(buf); err != nil {
			return err
		}
	}
	return nil
}

// takeChanges appends the current state of every pin changed since the
// last call to dst.
func (t *pinTable) takeChanges(dst []PinChange) []PinChange {
	for i := range t.shards {
		sh := &t.shards[i]
		// Most shards have nothing queued between two writes: a look under
		// dirtyMu spares them a write lock, which would stall their readers.
		// A key queued after the look is taken next time.
		sh.dirtyMu.Lock()
		empty := len(sh.dirty) == 0
		sh.dirtyMu.Unlock()
		if empty {
			continue
		}
		sh.mu.Lock()
		sh.dirtyMu.Lock()
		keys := sh.dirty
		sh.dirty = nil
		sh.dirtyMu.Unlock()
		for _, k := range keys {
			c := PinChange{Key: k}
			if j, ok := sh.idx[k]; ok {
				s := &sh.slots[j]
				s.dirty.Store(0)
				c.Generation, c.Instance, c.LastSeen = s.gen, s.inst, s.seen.Load()
			}
			dst = append(dst, c)
		}
		sh.mu.Unlock()
	}
	return dst
}

// load applies changes the store read back, without marking them dirty.
func (t *pinTable) load(cs []PinChange) {
	for _, c := range cs {
		sh := t.shard(c.Key)
		sh.mu.Lock()
		if c.Generation != 0 {
			t.setLocked(sh, c.Key, int(c.Generation), int(c.Instance), c.LastSeen, false)
		} else if i, ok := sh.idx[c.Key]; ok {
			t.removeLocked(sh, i, false)
		}
		sh.mu.Unlock()
	}
}

func (t *pinTable) list() []fleet.Pin {
	out := make([]fleet.Pin, 0, t.count.Load())
	t.each(func(cs []PinChange) error {
		for _, c := range cs {
			out = append(out, fleet.Pin{Key: c.Key, Generation: int(c.Generation), Instance: int(c.Instance),
				LastSeen: time.Unix(0, c.LastSeen)})
		}
		return nil
	})
	return out
}

func (t *pinTable) recent(n int) []fleet.Pin {
	if n <= 0 {
		return nil
	}
	top := map[uint32][]PinChange{} // per generation, at most n, unordered
	t.each(func(cs []PinChange) error {
		for _, c := range cs {
			kept := top[c.Generation]
			if len(kept) < n {
				top[c.Generation] = append(kept, c)
				continue
			}
			oldest := 0
			for i := range kept {
				if kept[i].LastSeen < kept[oldest].LastSeen {
					oldest = i
				}
			}
			if c.LastSeen > kept[oldest].LastSeen {
				kept[oldest] = c
			}
		}
		return nil
	})
	var out []fleet.Pin
	for _, kept := range top {
		slices.SortFunc(kept, func(a, b PinChange) int { return cmp.Compare(b.LastSeen, a.LastSeen) })
		for _, c := range kept {
			out = append(out, fleet.Pin{Key: c.Key, Generation: int(c.Generation), Instance: int(c.Instance), LastSeen: time.Unix(0, c.LastSeen)})
		}
	}
	return out
}

func (t *pinTable) isEnded(k fleet.SessionKey, now time.Time) bool {
	t.endedMu.Lock()
	until, ok := t.ended[k]
	t.endedMu.Unlock()
	return ok && now.UnixNano() < until
}

// bury records tombstones for keys until the given time.
func (t *pinTable) bury(keys []fleet.SessionKey, until time.Time) {
	t.endedMu.Lock()
	defer t.endedMu.Unlock()
	for _, k := range keys {
		t.ended[k] = until.UnixNano()
	}
	t.endedN.Store(int64(len(t.ended)))
}

// unbury forgets the tombstones that have run out; the idle sweep calls it.
func (t *pinTable) unbury(now time.Time) {
	t.endedMu.Lock()
	defer t.endedMu.Unlock()
	for k, u := range t.ended {
		if u <= now.UnixNano() {
			delete(t.ended, k)
		}
	}
	t.endedN.Store(int64(len(t.ended)))
}
