package fleet

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// How gatewayctl, the console and the STATUS= line systemd shows put
// generations into words: one copy, so that they agree.

// Span is a duration as people read uptimes: to the nearest second, the
// two largest units, a zero second unit left out ("45s", "3m12s", "7h59m",
// "2d3h", "5m").
func Span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	s := int64(d.Round(time.Second) / time.Second)
	units := []struct {
		size int64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}}
	for i, u := range units {
		if s < u.size && u.size > 1 {
			continue
		}
		out := fmt.Sprintf("%d%s", s/u.size, u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if rest := s % u.size / next.size; rest > 0 {
				out += fmt.Sprintf("%d%s", rest, next.name)
			}
		}
		return out
	}
	return "0s"
}

// Relative says when t is from now: "3m12s ago", "in 7h59m", "now".
func Relative(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d > 0:
		return Span(d) + " ago"
	}
	return "in " + Span(-d)
}

// Plural is "1 session", "2 sessions".
func Plural[N int | uint64](n N, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// JoinPIDs lists pids with sep between them.
func JoinPIDs(pids []int, sep string) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, sep)
}

// Ordered is the generations as they are shown: the active one, then the
// canary, then one starting, then the detached ones newest first (the next
// to retire last), then any in another state, newest first.
func Ordered(gens []Generation) []Generation {
	rank := func(s State) int {
		switch s {
		case Active:
			return 0
		case Canary:
			return 1
		case Starting:
			return 2
		case Detached:
			return 3
		}
		return 4
	}
	out := slices.Clone(gens)
	slices.SortStableFunc(out, func(a, b Generation) int {
		return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), cmp.Compare(b.ID, a.ID))
	})
	return out
}

// ActiveLine says that generation id is now active, with its revision when
// gens (listed after the upgrade, or nil if that failed) has it: what an
// upgrade or a detach answers.
func ActiveLine(gens []Generation, id int) string {
	line := fmt.Sprintf("generation %d is active", id)
	for _, g := range gens {
		if g.ID == id {
			return fmt.Sprintf("%s (revision %s)", line, g.Revision)
		}
	}
	return line
}

// StatusLine is the one line `systemctl status` shows, e.g.
// "active gen 4 (rev 2026-11-20, 3 sessions) · detached: gen 3 (12 sessions), gen 2 (1 session)".
func StatusLine(gens []Generation) string {
	var active, canary, starting string
	var detached []string
	for _, g := range Ordered(gens) {
		switch g.State {
		case Active:
			active = fmt.Sprintf("active gen %d (rev %s, %s)", g.ID, g.Revision, Plural(g.Sessions, "session"))
		case Canary:
			canary = fmt.Sprintf("canary gen %d (rev %s, %s)", g.ID, g.Revision, Plural(g.Sessions, "session"))
		case Starting:
			starting = fmt.Sprintf("starting gen %d", g.ID)
		case Detached:
			detached = append(detached, fmt.Sprintf("gen %d (%s)", g.ID, Plural(g.Sessions, "session")))
		}
	}
	parts := []string{active}
	if active == "" {
		parts[0] = "no active generation"
	}
	for _, p := range []string{canary, starting} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(detached) > 0 {
		parts = append(parts, "detached: "+strings.Join(detached, ", "))
	}
	return strings.Join(parts, " · ")
}

// TrialLine says what share of new sessions the canary gets and for how
// long it has had it: "10% of new sessions, on trial for 3m12s".
func TrialLine(t Trial, now time.Time) string {
	line := roundPercent(t.Share) + " of new sessions"
	if !t.Started.IsZero() {
		line += ", on trial for " + Span(max(now.Sub(t.Started), 0))
	}
	return line
}

// FiguresLine is one generation's answers over a trial, in the terms the
// judge decides by: "250 requests, 5xx 0.40%, p99 40ms".
func FiguresLine(s Summary) string {
	if s.Requests == 0 {
		return "no requests yet"
	}
	return fmt.Sprintf("%s, 5xx %s, p99 %s", Plural(s.Requests, "request"), pct(s.ErrorRate()), s.P99)
}

// TrialFigures sets the canary's figures beside the active generation's:
// "canary 250 requests, 5xx 0.40%, p99 40ms · active 2400 requests, 5xx
// 0.08%, p99 36ms".
func TrialFigures(t Trial) string {
	return "canary " + FiguresLine(t.Canary) + " · active " + FiguresLine(t.Active)
}

// JudgeLine says who ends a trial, and by what settings: a judge's margins
// as Judge.Decide applies them, or an admin.
func JudgeLine(j *Judge) string {
	if j == nil {
		return "judged by an admin (no [canary] judge)"
	}
	promote := "promoted after " + Span(j.PromoteAfter)
	if j.PromoteAfter <= 0 {
		promote = "never promoted by the judge (no promote_after)"
	}
	return fmt.Sprintf("judged by [canary]: aborted at 5xx > active + %s or p99 > active + %s (at least %s), once it has %s; %s",
		pointsText(j.ErrorMargin), roundPercent(j.LatencyMargin), j.LatencyMin, Plural(j.MinRequests, "request"), promote)
}

// roundPercent is a fraction as a setting reads: 0.1 is "10%", 0.125 "12.5%".
func roundPercent(f float64) string { return trimmed(100*f) + "%" }

// pointsText is a margin of a rate in percentage points: "1 point",
// "0.5 points".
func pointsText(f float64) string {
	n := trimmed(100 * f)
	if n == "1" {
		return "1 point"
	}
	return n + " points"
}

// trimmed is f to two decimals, without trailing zeros.
func trimmed(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}
