package fleet

import (
	"encoding/json"
	"fmt"
	"time"
)

// Trial is a canary's trial as the console and status show it, and as its
// judge reads it: the canary's answers since it was routed, beside the
// active generation's over the same span.
type Trial struct {
	Share   float64   // of new sessions the canary gets, 0 to 1
	Started time.Time // when the canary was routed
	Canary  Summary
	Active  Summary // the active generation's since Started
	// Judge is the automatic judgement ([canary] in the configuration the
	// canary started with); nil: an admin promotes or aborts.
	Judge *Judge
	// Verdict is what the judge makes of the figures now, for people; ""
	// without a judge.
	Verdict string
}

// Judge decides a canary's trial by its figures (docs/design.md,
// "Canaries judged by their own figures"): abort when its 5xx rate or its
// p99 is worse than the active generation's by more than a margin, promote
// after a time without that.
type Judge struct {
	MinRequests   uint64        // each generation's answers before anything is decided
	ErrorMargin   float64       // of the 5xx rate: 0.01 is one percentage point
	LatencyMargin float64       // of p99, as a fraction of the active generation's...
	LatencyMin    time.Duration // ...and at least this
	PromoteAfter  time.Duration // 0: never promoted by the judge
}

// Decision is what the judge decides.
type Decision int

const (
	Wait Decision = iota
	AbortCanary
	PromoteCanary
)

// Decide judges a trial that has run for onTrial, from the canary's and
// the active generation's figures over it. Why gives the figures the
// decision rests on, for the log and the console.
//
// Nothing is decided before the canary has answered MinRequests. With
// fewer answers from the active generation than that (an idle old
// release), the canary's 5xx rate is held against zero and its latency is
// not judged: there is nothing to compare it with.
func (j Judge) Decide(canary, active Summary, onTrial time.Duration) (d Decision, why string) {
	if canary.Requests < j.MinRequests {
		return Wait, fmt.Sprintf("waiting for the canary's answers: %d of the %d it needs to be judged", canary.Requests, j.MinRequests)
	}
	compared := active.Requests >= j.MinRequests
	baseline := 0.0
	if compared {
		baseline = active.ErrorRate()
	}
	if excess := canary.ErrorRate() - baseline; excess > j.ErrorMargin {
		return AbortCanary, fmt.Sprintf("5xx rate %s (%d of %d) is %s above the active generation's %s (%d of %d); the margin is %s",
			pct(canary.ErrorRate()), canary.Errors, canary.Requests, points(excess), pct(baseline), active.Errors, active.Requests, points(j.ErrorMargin))
	}
	if compared {
		limit := active.P99 + max(time.Duration(j.LatencyMargin*float64(active.P99)), j.LatencyMin)
		if canary.P99 > limit {
			return AbortCanary, fmt.Sprintf("p99 %s is above %s: the active generation's %s plus the margin (%s, at least %s)",
				canary.P99, limit, active.P99, pct(j.LatencyMargin), j.LatencyMin)
		}
	}
	figures := fmt.Sprintf("5xx %s against %s, p99 %s against %s over %d and %d answers",
		pct(canary.ErrorRate()), pct(active.ErrorRate()), canary.P99, active.P99, canary.Requests, active.Requests)
	if !compared {
		figures = fmt.Sprintf("5xx %s over %d answers; p99 not judged: the active generation answered %d, fewer than %d",
			pct(canary.ErrorRate()), canary.Requests, active.Requests, j.MinRequests)
	}
	if j.PromoteAfter > 0 && onTrial >= j.PromoteAfter {
		return PromoteCanary, fmt.Sprintf("within the margins for %s: %s", j.PromoteAfter, figures)
	}
	return Wait, "within the margins so far: " + figures
}

func pct(f float64) string    { return fmt.Sprintf("%.2f%%", 100*f) }
func points(f float64) string { return fmt.Sprintf("%.2f points", 100*f) }

// trialJSON is a Trial in the status document; durations in seconds.
type trialJSON struct {
	Share   float64    `json:"share"`
	Started *time.Time `json:"started"`
	Canary  Summary    `json:"canary"`
	Active  Summary    `json:"active"`
	Judge   *judgeJSON `json:"judge"` // null: an admin decides
	Verdict string     `json:"verdict"`
}

type judgeJSON struct {
	MinRequests   uint64  `json:"min_requests"`
	ErrorMargin   float64 `json:"error_margin"`
	LatencyMargin float64 `json:"latency_margin"`
	LatencyMin    float64 `json:"latency_margin_min_seconds"`
	PromoteAfter  float64 `json:"promote_after_seconds"` // 0: never by itself
}

func (t Trial) MarshalJSON() ([]byte, error) {
	j := trialJSON{Share: t.Share, Started: orNull(t.Started), Canary: t.Canary, Active: t.Active, Verdict: t.Verdict}
	if t.Judge != nil {
		j.Judge = &judgeJSON{MinRequests: t.Judge.MinRequests, ErrorMargin: t.Judge.ErrorMargin, LatencyMargin: t.Judge.LatencyMargin,
			LatencyMin: t.Judge.LatencyMin.Seconds(), PromoteAfter: t.Judge.PromoteAfter.Seconds()}
	}
	return json.Marshal(j)
}

func (t *Trial) UnmarshalJSON(b []byte) error {
	var j trialJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*t = Trial{Share: j.Share, Started: orZero(j.Started), Canary: j.Canary, Active: j.Active, Verdict: j.Verdict}
	if j.Judge != nil {
		t.Judge = &Judge{MinRequests: j.Judge.MinRequests, ErrorMargin: j.Judge.ErrorMargin, LatencyMargin: j.Judge.LatencyMargin,
			LatencyMin: seconds(j.Judge.LatencyMin), PromoteAfter: seconds(j.Judge.PromoteAfter)}
	}
	return nil
}

type summaryJSON struct {
	Requests   uint64  `json:"requests"`
	Errors     uint64  `json:"errors"`
	ErrorRate  float64 `json:"error_rate"`
	P99Seconds float64 `json:"p99_seconds"`
}

func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{s.Requests, s.Errors, s.ErrorRate(), s.P99.Seconds()})
}

func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary{Requests: j.Requests, Errors: j.Errors, P99: seconds(j.P99Seconds)}
	return nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
