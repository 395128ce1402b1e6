package console

import (
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// The history stays bounded whatever the rate of page views, keeps the
// first sample of a burst, and covers the window.
func TestHistoryIsBounded(t *testing.T) {
	h := newHistory(time.Hour)
	start := time.Now()
	now := start
	gens := func(n int) []fleet.Generation {
		return []fleet.Generation{{ID: 1, State: "active", Usage: fleet.Usage{Sessions: n}}}
	}

	h.observe(now, gens(0))
	h.observe(now.Add(100*time.Millisecond), gens(1))
	h.observe(now.Add(200*time.Millisecond), gens(2))
	s := h.snapshot()
	if got := s.series[1]; len(got) != 1 || len(got[0]) != 2 || got[0][0].sessions != 0 || got[0][1].sessions != 2 {
		t.Fatalf("a burst: got %+v, want its first and its last sample", got)
	}

	// Two hours of a page polling every 2 s.
	for range 3600 {
		now = now.Add(2 * time.Second)
		h.observe(now, gens(int(now.Sub(start)/time.Minute)))
	}
	s = h.snapshot()
	runs := s.series[1]
	if len(runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(runs))
	}
	pts := runs[0]
	if len(pts) > maxSamples || len(pts) < maxSamples/2 {
		t.Errorf("got %d samples, want between %d and %d", len(pts), maxSamples/2, maxSamples)
	}
	if age := now.Sub(pts[0].at); age > time.Hour || age < 50*time.Minute {
		t.Errorf("the oldest sample is %v old, want most of an hour", age)
	}
	if !pts[len(pts)-1].at.Equal(now) || pts[len(pts)-1].sessions != 120 {
		t.Errorf("the last sample: got %+v, want the latest observation (120 sessions)", pts[len(pts)-1])
	}
	for i := 1; i < len(pts); i++ {
		if !pts[i].at.After(pts[i-1].at) {
			t.Fatalf("samples out of order at %d", i)
		}
	}
}

// A generation that disappears is remembered as gone, with its last state.
func TestHistoryGone(t *testing.T) {
	h := newHistory(time.Hour)
	now := time.Now()
	h.observe(now, []fleet.Generation{{ID: 1, State: "detached", Revision: "r1"}, {ID: 2, State: "active"}, {ID: 3, State: "starting"}})
	h.observe(now.Add(time.Second), []fleet.Generation{{ID: 2, State: "active"}})
	s := h.snapshot()
	if len(s.gone) != 2 {
		t.Fatalf("gone: got %+v, want generations 1 and 3", s.gone)
	}
	lv := newLive(now.Add(time.Second), []fleet.Generation{{ID: 2, State: "active"}}, nil, s, "")
	what := map[int]string{}
	for _, g := range lv.Gone {
		what[g.ID] = g.What
	}
	if what[1] != "retired" || what[3] != "did not start" {
		t.Errorf("got %v, want 1 retired and 3 did not start", what)
	}
	for i := range 20 {
		h.observe(now.Add(time.Duration(i+2)*time.Second), []fleet.Generation{{ID: 10 + i, State: "active"}})
	}
	if got := len(h.snapshot().gone); got != maxGone {
		t.Errorf("gone: got %d, want at most %d", got, maxGone)
	}
}
