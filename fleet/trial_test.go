package fleet

import (
	"strings"
	"testing"
	"time"
)

func TestJudgeDecide(t *testing.T) {
	j := Judge{MinRequests: 100, ErrorMargin: 0.01, LatencyMargin: 0.5, LatencyMin: 10 * time.Millisecond, PromoteAfter: time.Minute}
	ms := time.Millisecond
	healthy := Summary{Requests: 1000, Errors: 5, P99: 20 * ms}
	for _, c := range []struct {
		name           string
		canary, active Summary
		onTrial        time.Duration
		want           Decision
		why            string
	}{
		{"too few answers, however bad", Summary{Requests: 99, Errors: 99, P99: time.Hour}, healthy, time.Hour, Wait, "99 of the 100"},
		{"5xx within the margin", Summary{Requests: 200, Errors: 2, P99: 20 * ms}, healthy, 0, Wait, "within the margins so far: 5xx 1.00% against 0.50%"},
		{"5xx above the margin", Summary{Requests: 200, Errors: 4, P99: 20 * ms}, healthy, 0, AbortCanary, "5xx rate 2.00% (4 of 200) is 1.50 points above the active generation's 0.50% (5 of 1000); the margin is 1.00 points"},
		{"p99 within 50%", Summary{Requests: 200, P99: 30 * ms}, healthy, 0, Wait, "within the margins"},
		{"p99 above 50%", Summary{Requests: 200, P99: 31 * ms}, healthy, 0, AbortCanary, "p99 31ms is above 30ms: the active generation's 20ms plus the margin (50.00%, at least 10ms)"},
		{"p99 within the floor", Summary{Requests: 200, P99: 11 * ms}, Summary{Requests: 1000, P99: ms}, 0, Wait, "within the margins"},
		{"p99 above the floor", Summary{Requests: 200, P99: 12 * ms}, Summary{Requests: 1000, P99: ms}, 0, AbortCanary, "p99 12ms is above 11ms"},
		{"idle active: 5xx against zero", Summary{Requests: 200, Errors: 3, P99: time.Hour}, Summary{Requests: 5}, 0, AbortCanary, "1.50 points above the active generation's 0.00% (0 of 5)"},
		{"idle active: latency not judged", Summary{Requests: 200, Errors: 1, P99: time.Hour}, Summary{Requests: 5}, 0, Wait, "p99 not judged: the active generation answered 5, fewer than 100"},
		{"promoted after the time", Summary{Requests: 200, Errors: 1, P99: 20 * ms}, healthy, time.Minute, PromoteCanary, "within the margins for 1m0s: 5xx 0.50% against 0.50%, p99 20ms against 20ms over 200 and 1000 answers"},
		{"a bad canary is not promoted", Summary{Requests: 200, Errors: 100}, healthy, time.Hour, AbortCanary, "5xx rate 50.00%"},
		{"no promotion without enough answers", Summary{Requests: 10}, healthy, time.Hour, Wait, "10 of the 100"},
	} {
		d, why := j.Decide(c.canary, c.active, c.onTrial)
		if d != c.want || !strings.Contains(why, c.why) {
			t.Errorf("%s: %v %q, want %v %q", c.name, d, why, c.want, c.why)
		}
	}
	j.PromoteAfter = 0
	if d, _ := j.Decide(Summary{Requests: 200}, healthy, 1000*time.Hour); d != Wait {
		t.Errorf("with no promote_after, a trial was decided: %v", d)
	}
}
