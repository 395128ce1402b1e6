package fleet

import (
	"testing"
	"time"
)

func TestSpan(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{400 * time.Millisecond, "0s"},
		{900 * time.Millisecond, "1s"}, // to the nearest second: a countdown does not lose one
		{45 * time.Second, "45s"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{5 * time.Minute, "5m"},
		{7*time.Hour + 59*time.Minute + 59*time.Second, "7h59m"},
		{time.Hour + 30*time.Second, "1h"},
		{51*time.Hour + 10*time.Minute, "2d3h"},
		{48 * time.Hour, "2d"},
		{-90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		if got := Span(tt.d); got != tt.want {
			t.Errorf("Span(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 11, 20, 13, 16, 17, 0, time.UTC)
	tests := []struct {
		t    time.Time
		want string
	}{
		{now.Add(-(3*time.Minute + 12*time.Second)), "3m12s ago"},
		{now.Add(7*time.Hour + 59*time.Minute + 30*time.Second), "in 7h59m"},
		{now.Add(-300 * time.Millisecond), "now"},
		{now, "now"},
	}
	for _, tt := range tests {
		if got := Relative(tt.t, now); got != tt.want {
			t.Errorf("Relative(%v): got %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestStatusLine(t *testing.T) {
	gen := func(id int, st State, rev string, sessions int) Generation {
		return Generation{ID: id, State: st, Revision: rev, Usage: Usage{Sessions: sessions}}
	}
	cases := []struct {
		gens []Generation
		want string
	}{
		{nil, "no active generation"},
		{[]Generation{gen(1, Starting, "a", 0)}, "no active generation · starting gen 1"},
		{[]Generation{gen(2, Detached, "a", 1), gen(3, Detached, "b", 12), gen(4, Active, "2026-11-20", 5)},
			"active gen 4 (rev 2026-11-20, 5 sessions) · detached: gen 3 (12 sessions), gen 2 (1 session)"},
		{[]Generation{gen(2, Detached, "a", 1), gen(3, Canary, "c", 2), gen(1, Active, "b", 5)},
			"active gen 1 (rev b, 5 sessions) · canary gen 3 (rev c, 2 sessions) · detached: gen 2 (1 session)"},
	}
	for _, c := range cases {
		if got := StatusLine(c.gens); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// The trial in the words gatewayctl status and the console both use.
func TestTrialWords(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 3, 14, 0, time.UTC)
	ms := time.Millisecond
	tr := Trial{Share: 0.1, Started: now.Add(-(3*time.Minute + 12*time.Second)),
		Canary: Summary{Requests: 250, Errors: 1, P99: 40 * ms}, Active: Summary{Requests: 2400, Errors: 2, P99: 36 * ms}}
	j := &Judge{MinRequests: 200, ErrorMargin: 0.01, LatencyMargin: 0.5, LatencyMin: 10 * ms, PromoteAfter: 30 * time.Minute}
	for _, c := range []struct{ got, want string }{
		{TrialLine(tr, now), "10% of new sessions, on trial for 3m12s"},
		{TrialLine(Trial{Share: 0.125}, now), "12.5% of new sessions"},
		{TrialLine(Trial{Share: 0.07, Started: now.Add(time.Second)}, now), "7% of new sessions, on trial for 0s"}, // a clock a little off
		{TrialFigures(tr), "canary 250 requests, 5xx 0.40%, p99 40ms · active 2400 requests, 5xx 0.08%, p99 36ms"},
		{FiguresLine(Summary{Requests: 1, Errors: 1, P99: 1152 * time.Microsecond}), "1 request, 5xx 100.00%, p99 1.152ms"},
		{FiguresLine(Summary{}), "no requests yet"},
		{JudgeLine(nil), "judged by an admin (no [canary] judge)"},
		{JudgeLine(j), "judged by [canary]: aborted at 5xx > active + 1 point or p99 > active + 50% (at least 10ms), once it has 200 requests; promoted after 30m"},
		{JudgeLine(&Judge{MinRequests: 1, ErrorMargin: 0.005, LatencyMargin: 2, LatencyMin: ms}),
			"judged by [canary]: aborted at 5xx > active + 0.5 points or p99 > active + 200% (at least 1ms), once it has 1 request; never promoted by the judge (no promote_after)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
