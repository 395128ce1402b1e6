package config

// Canary is the [canary] table: the automatic judgement of a canary
// (`gatewayctl upgrade --canary`). Off unless Judge is set; an admin then
// promotes or aborts. A canary is judged by the settings of the
// configuration it was started with.
type Canary struct {
	// Judge (judge) turns the judgement on: the canary is aborted by
	// itself once its 5xx rate or its p99 latency is worse than the active
	// generation's by more than the margins below, and promoted by itself
	// after PromoteAfter without that. Default: false.
	Judge bool `toml:"judge"`

	// MinRequests (min_requests) is how many answers the canary must have
	// given before anything is decided, and how many the active generation
	// must have given over the trial for its figures to be compared with
	// (below that, the canary's 5xx rate is held against zero and its
	// latency is not judged). 1 to 1000000000. Default: 200.
	MinRequests int `toml:"min_requests"`

	// ErrorMargin (error_margin) is how far the canary's 5xx rate may
	// exceed the active generation's, in percentage points: "1%" lets 1.4 %
	// pass beside 0.5 % and aborts at 1.6 %. "0%" to "100%". Default: "1%".
	ErrorMargin string `toml:"error_margin"`

	// LatencyMargin (latency_margin) is how far the canary's p99 may
	// exceed the active generation's, as a share of the latter: "50%" lets
	// 150 ms pass beside 100 ms. Default: "50%".
	LatencyMargin string `toml:"latency_margin"`

	// LatencyMarginMin (latency_margin_min) is the least the latency margin
	// allows, for apps so fast that half of their p99 is noise. Default:
	// 10ms.
	LatencyMarginMin Duration `toml:"latency_margin_min"`

	// PromoteAfter (promote_after) is how long the canary must stay within
	// the margins (having answered MinRequests) to be promoted by itself.
	// Zero means never: the judge only aborts. Default: 0s.
	PromoteAfter Duration `toml:"promote_after"`
}

func (c *Canary) check(ck *checker) {
	ck.between("canary.min_requests", c.MinRequests, 1, 1_000_000_000)
	checkMargin(ck, "canary.error_margin", c.ErrorMargin, 100)
	checkMargin(ck, "canary.latency_margin", c.LatencyMargin, maxLatencyMargin)
	ck.nonNegative("canary.latency_margin_min", c.LatencyMarginMin)
	ck.nonNegative("canary.promote_after", c.PromoteAfter)
}

// maxLatencyMargin bounds latency_margin, in percent: 10000 % lets a
// canary be 101 times slower, past any margin worth judging by.
const maxLatencyMargin = 10000

func checkMargin(ck *checker, key, s string, most uint64) {
	n, err := parsePercent(s)
	switch {
	case err == errNotNumber:
		ck.add(key, `%q is not a percentage (e.g. "1%%" or "12.5%%")`, s)
	case err != nil || n > most*100:
		ck.add(key, "%q is too large, want at most %d%%", s, most)
	}
}

// Margins are ErrorMargin and LatencyMargin as fractions (0.01 for "1%").
// Only for a configuration that passed Validate.
func (c Canary) Margins() (errorMargin, latencyMargin float64) {
	e, _ := parsePercent(c.ErrorMargin)
	l, _ := parsePercent(c.LatencyMargin)
	return float64(e) / 10000, float64(l) / 10000
}
