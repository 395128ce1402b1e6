package supervisor

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// fakeFigures are the generations' answers as a test sets them.
type fakeFigures struct {
	mu   sync.Mutex
	gens map[int]fleet.Figures
}

func (f *fakeFigures) get(gen int) fleet.Figures {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gens[gen]
}

// answer adds n answers of status taking d to gen's figures.
func (f *fakeFigures) answer(gen, n, status int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gens == nil {
		f.gens = map[int]fleet.Figures{}
	}
	g := f.gens[gen]
	g.Requests += uint64(n)
	if status >= 500 {
		g.Errors += uint64(n)
	}
	g.Latency[fleet.LatencyBucket(d)] += uint64(n)
	f.gens[gen] = g
}

const judged = `judge = true
min_requests = 100
error_margin = "1%"
latency_margin = "50%"
latency_margin_min = "10ms"`

// A judged canary whose 5xx rate is above the active generation's by more
// than the margin is aborted by itself, keeping its sessions, and the
// log gives the figures. The active generation's answers from before the
// trial do not count.
func TestJudgeAbortsOnErrors(t *testing.T) {
	h := startHarness(t, knobs{canary: judged})
	h.figures.answer(1, 10000, 500, time.Millisecond) // before the trial: not held against it
	h.startCanary(2, 0.1)
	h.traffic.setUsage(2, fleet.Usage{Sessions: 4})
	h.figures.answer(1, 1000, 200, time.Millisecond)
	h.figures.answer(2, 97, 200, time.Millisecond)
	h.figures.answer(2, 2, 503, time.Millisecond)
	time.Sleep(5 * h.tick) // 99 answers: nothing is decided
	h.wantStates("1:active 2:canary")
	gens, _ := h.sup.Generations(h.ctx())
	if tr := gens[1].Trial; tr == nil || tr.Canary.Requests != 99 || tr.Active.Requests != 1000 || !strings.Contains(tr.Verdict, "99 of the 100") {
		t.Fatalf("the canary's trial: %+v", tr)
	}

	h.figures.answer(2, 1, 500, time.Millisecond) // 3 of 100: 3 % against 0 %
	h.waitStates("1:active 2:detached")
	h.wantLast("active=1[1] detached=2[1]")
	if slices.Contains(h.traffic.gotEvents(), "drop-gen 2") {
		t.Error("the judge ended the canary's sessions")
	}
	log := h.logs.String()
	for _, want := range []string{`msg="canary aborted`, `reason="5xx rate 3.00% (3 of 100) is 3.00 points above the active generation's 0.00% (0 of 1000)`,
		"by=judge", "canary_requests=100 canary_errors=3", "active_requests=1000 active_errors=0", "canary_p99=", "active_p99="} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no %q:\n%s", want, log)
		}
	}
	if !slices.Contains(h.obs.got(), "canary-ended 2 promoted=false") {
		t.Errorf("observer: %q", h.obs.got())
	}
}

// A canary slower than the margins allow is aborted.
func TestJudgeAbortsOnLatency(t *testing.T) {
	h := startHarness(t, knobs{canary: judged})
	h.startCanary(2, 0.1)
	h.figures.answer(1, 1000, 200, 20*time.Millisecond)
	h.figures.answer(2, 100, 200, 29*time.Millisecond) // within 50 %
	time.Sleep(5 * h.tick)
	h.wantStates("1:active 2:canary")
	h.figures.answer(2, 10, 200, 200*time.Millisecond) // the p99 of 110 is now 200ms
	h.waitStates("1:active 2:detached")
	if log := h.logs.String(); !strings.Contains(log, `reason="p99 212.992ms is above 30.72ms: the active generation's 20.48ms plus the margin (50.00%, at least 10ms)"`) {
		t.Errorf("the log does not give the latency:\n%s", log)
	}
}

// A judged canary within the margins is promoted by itself after
// promote_after, and not before it has answered min_requests.
func TestJudgePromotes(t *testing.T) {
	h := startHarness(t, knobs{canary: judged + "\npromote_after = \"150ms\""})
	h.startCanary(2, 0.1)
	h.figures.answer(1, 1000, 200, time.Millisecond)
	h.figures.answer(2, 50, 200, time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	h.wantStates("1:active 2:canary") // 50 answers: not judged yet
	h.figures.answer(2, 50, 200, time.Millisecond)
	h.waitStates("1:detached 2:active")
	if log := h.logs.String(); !strings.Contains(log, `msg="canary promoted: generation active"`) ||
		!strings.Contains(log, `reason="within the margins for 150ms: 5xx 0.00% against 0.00%`) || !strings.Contains(log, "by=judge") {
		t.Errorf("the promotion is not logged with its figures:\n%s", log)
	}
}

// Without judge = true, figures decide nothing.
func TestNoJudgeByDefault(t *testing.T) {
	h := startHarness(t, knobs{canary: `promote_after = "10ms"`})
	h.startCanary(2, 0.1)
	h.figures.answer(1, 1000, 200, time.Millisecond)
	h.figures.answer(2, 1000, 500, time.Millisecond)
	time.Sleep(10 * h.tick)
	h.wantStates("1:active 2:canary")
	gens, _ := h.sup.Generations(h.ctx())
	if tr := gens[1].Trial; tr == nil || tr.Judge != nil || tr.Verdict != "" || tr.Canary.Errors != 1000 || tr.Share != 0.1 {
		t.Errorf("the trial of an unjudged canary: %+v", tr)
	}
}
