package proxy

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

func testKey(i int) fleet.SessionKey {
	h, _ := NewHasher(benchSecret)
	return h.Key(fmt.Sprint("session-", i))
}

// changes takes t's changes as a map, failing on a key taken twice.
func changes(t *testing.T, pt *pinTable) map[fleet.SessionKey]PinChange {
	t.Helper()
	out := map[fleet.SessionKey]PinChange{}
	for _, c := range pt.takeChanges(nil) {
		if _, dup := out[c.Key]; dup {
			t.Errorf("key %v taken twice", c.Key)
		}
		out[c.Key] = c
	}
	return out
}

func TestPinChangesAreTakenOnceWithTheirLatestState(t *testing.T) {
	pt := newPinTable(newStatsTable(), time.Minute)
	now := time.Unix(1_800_000_000, 0)
	a, b, c := testKey(1), testKey(2), testKey(3)
	pt.set(a, 1, 1, now)
	pt.set(a, 2, 1, now) // moved before the store looked
	pt.set(b, 1, 2, now)
	pt.set(c, 1, 1, now)
	pt.remove(c) // started and ended before the store looked
	got := changes(t, pt)
	want := map[fleet.SessionKey]PinChange{
		a: {Key: a, Generation: 2, Instance: 1, LastSeen: now.UnixNano()},
		b: {Key: b, Generation: 1, Instance: 2, LastSeen: now.UnixNano()},
		c: {Key: c},
	}
	if len(got) != len(want) {
		t.Fatalf("took %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("change of %v: got %+v, want %+v", k, got[k], w)
		}
	}
	if got := pt.takeChanges(nil); len(got) != 0 {
		t.Errorf("second take: got %v, want nothing", got)
	}
	pt.remove(a)
	if got := changes(t, pt); len(got) != 1 || got[a] != (PinChange{Key: a}) {
		t.Errorf("after ending a: took %v, want a's end", got)
	}
}

// A request marks its pin seen; the store hears of it only when the time
// crosses into a new period of the staleness bound.
func TestLastSeenIsTakenOncePerPeriod(t *testing.T) {
	pt := newPinTable(newStatsTable(), time.Minute)
	start := time.Unix(1_800_000_000, 0) // a whole number of minutes
	k := testKey(1)
	pt.set(k, 1, 1, start)
	changes(t, pt)
	for s := 1; s < 60; s += 7 {
		if _, _, ok := pt.lookup(k, start.Add(time.Duration(s)*time.Second)); !ok {
			t.Fatal("pin missing")
		}
	}
	if got := pt.takeChanges(nil); len(got) != 0 {
		t.Fatalf("within the period: took %v, want nothing", got)
	}
	later := start.Add(61 * time.Second)
	pt.lookup(k, later)
	pt.lookup(k, later.Add(time.Second))
	got := changes(t, pt)
	if c := got[k]; len(got) != 1 || c.LastSeen != later.Add(time.Second).UnixNano() || c.Generation != 1 {
		t.Fatalf("after the period: took %v, want k last seen %v", got, later.Add(time.Second))
	}
}

func TestLoadedPinsAreNotTakenAgain(t *testing.T) {
	pt := newPinTable(newStatsTable(), time.Minute)
	now := time.Now().UnixNano()
	a, b := testKey(1), testKey(2)
	pt.load([]PinChange{
		{Key: a, Generation: 3, Instance: 1, LastSeen: now},
		{Key: b, Generation: 3, Instance: 2, LastSeen: now},
		{Key: a, Generation: 4, Instance: 1, LastSeen: now}, // moved
		{Key: b}, // ended
	})
	if got := pt.takeChanges(nil); len(got) != 0 {
		t.Errorf("took %v after a load, want nothing", got)
	}
	if gen, inst, ok := pt.peek(a); !ok || gen != 4 || inst != 1 {
		t.Errorf("a: got %d/%d %v, want 4/1", gen, inst, ok)
	}
	if _, _, ok := pt.peek(b); ok {
		t.Error("b is pinned after its end was loaded")
	}
	if n := pt.count.Load(); n != 1 {
		t.Errorf("count %d, want 1", n)
	}
	if s := pt.stats.lookup(4); s == nil || s.sessions.Load() != 1 {
		t.Error("generation 4 does not count the loaded pin")
	}
}

func TestRemoveWhereReportsAndQueuesEnds(t *testing.T) {
	pt := newPinTable(newStatsTable(), time.Minute)
	now := time.Now()
	var keys []fleet.SessionKey
	for i := range 1000 {
		keys = append(keys, testKey(i))
		pt.set(keys[i], 1+i%2, 1, now)
	}
	changes(t, pt)
	removed := pt.removeWhere(func(gen, _ int, _ int64) bool { return gen == 2 })
	if len(removed) != 1 || len(removed[2]) != 500 {
		t.Fatalf("removed %d generations, %d of generation 2; want 500 of 2", len(removed), len(removed[2]))
	}
	got := changes(t, pt)
	for _, k := range removed[2] {
		if c, ok := got[k]; !ok || c.Generation != 0 {
			t.Fatalf("the end of %v was not taken", k)
		}
	}
	if len(got) != 500 || pt.count.Load() != 500 {
		t.Errorf("took %d changes, %d pins left; want 500 and 500", len(got), pt.count.Load())
	}
	// Freed slots are reused.
	slots := 0
	for i := range pt.shards {
		slots += len(pt.shards[i].slots)
	}
	for i := 1000; i < 1500; i++ {
		pt.set(testKey(i), 3, 1, now)
	}
	after := 0
	for i := range pt.shards {
		after += len(pt.shards[i].slots)
	}
	if after > slots+pinShards { // a shard may get a few more than it freed
		t.Errorf("slots grew from %d to %d for 500 pins after 500 ended", slots, after)
	}
	var listed []fleet.SessionKey
	for _, p := range pt.list() {
		listed = append(listed, p.Key)
	}
	if len(listed) != 1000 || slices.ContainsFunc(removed[2], func(k fleet.SessionKey) bool { return slices.Contains(listed, k) }) {
		t.Errorf("list: %d pins, want 1000 without the removed ones", len(listed))
	}
}

// BenchmarkPinTableMemory reports the heap a million pins take (B/pin), the
// figure behind docs/benchmarks.md "Sessions at scale".
func BenchmarkPinTableMemory(b *testing.B) {
	const n = 1_000_000
	h, _ := NewHasher(benchSecret)
	now := time.Now()
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		pt := newPinTable(newStatsTable(), time.Minute)
		for i := range n {
			pt.set(h.Key(fmt.Sprint("session-", i)), 1, 1, now)
		}
		pt.takeChanges(nil)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/pin")
		runtime.KeepAlive(pt)
	}
}

func TestRecentKeepsTheNewestPerGeneration(t *testing.T) {
	pt := newPinTable(newStatsTable(), time.Minute)
	base := time.Unix(1_800_000_000, 0)
	for i := range 3000 {
		pt.set(testKey(i), 1+i%3, 1, base.Add(time.Duration(i)*time.Second))
	}
	got := pt.recent(5)
	if len(got) != 15 {
		t.Fatalf("got %d pins, want 5 of each of 3 generations", len(got))
	}
	byGen := map[int][]int{}
	for _, p := range got {
		byGen[p.Generation] = append(byGen[p.Generation], int(p.LastSeen.Sub(base)/time.Second))
	}
	for gen := 1; gen <= 3; gen++ {
		want := []int{}
		for i := 2999; len(want) < 5; i-- {
			if 1+i%3 == gen {
				want = append(want, i)
			}
		}
		if !slices.Equal(byGen[gen], want) {
			t.Errorf("generation %d: seen at %v, want the newest first %v", gen, byGen[gen], want)
		}
	}
}

// BenchmarkRemoveWhereMillion is what a dropped generation or a crashed
// worker costs the caller with a million pins of which none is theirs: one
// scan, a shard's lock at a time.
func BenchmarkRemoveWhereMillion(b *testing.B) {
	pt, _ := benchPins(1_000_000)
	for b.Loop() {
		pt.removeWhere(func(gen, _ int, _ int64) bool { return gen == 99 })
	}
}
