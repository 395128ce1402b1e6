package console

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// The page's data, computed before rendering so that the templates only
// lay it out.

// pageView is the whole page.
type pageView struct {
	App, Version string
	Flash        *flash
	Live         liveView
	Metrics      bool // /metrics is served
	Login        bool // a password is asked for: the page has a Sign out button
	Listeners    []listenerView
}

// liveView is the part of the page that /live serves and the script
// replaces.
type liveView struct {
	Token string // the CSRF token of the forms
	Now   timeView
	Err   string // the Core could not be read
	// PinStoreErr says that the pin store cannot write, and what it risks.
	PinStoreErr string
	Active      int
	Revision    string
	Sessions    int
	// Busy is set while a generation starts or drains: the page updates
	// every 2 s rather than every 10 s.
	Busy    bool
	Gens    []genView
	Gone    []goneView
	Span    string // how far back the sparklines go
	Refresh int    // seconds, for the page without script
}

type genView struct {
	ID                           int
	State                        fleet.State
	Revision, Unit, PIDs         string
	Sessions, InFlight, Upgraded int
	Started, Detached, Deadline  timeView
	Age                          string // since it started
	DetachedFor                  string // since it was detached
	TimeLeft                     string // until the drain deadline
	Overdue                      bool   // the deadline has passed
	CanDetach, CanRetire         bool
	RollbackTo                   int        // on the active generation: where a rollback goes (0: nowhere)
	OnTrial                      bool       // a canary: Promote and Abort
	Trial                        *trialView // the canary's, nil for the others
	Spark                        sparkView
	List                         []sessionView
	More                         int // sessions not listed
}

// trialView is a canary's trial in the words gatewayctl status uses
// (fleet/present.go), from the figures the judge decides by.
type trialView struct {
	Share          string // "10% of new sessions, on trial for 3m12s"
	Started        timeView
	Canary, Active string // "250 requests, 5xx 0.40%, p99 40ms"
	ActiveGen      int    // 0: none
	Judge          string // its settings, or that an admin decides
	Judged         bool
	Verdict        string // the judge's, "" without one
}

func newTrial(t fleet.Trial, activeGen int, now time.Time) *trialView {
	return &trialView{Share: fleet.TrialLine(t, now), Started: atTime(t.Started, now),
		Canary: fleet.FiguresLine(t.Canary), Active: fleet.FiguresLine(t.Active), ActiveGen: activeGen,
		Judge: fleet.JudgeLine(t.Judge), Judged: t.Judge != nil, Verdict: t.Verdict}
}

type sessionView struct {
	Hash     string
	Instance int
	Idle     string
}

type goneView struct {
	ID       int
	Revision string
	What     string // "retired", "did not start", "stopped"
	At       timeView
	Spark    sparkView
}

// timeView is a moment: Set false when not set.
type timeView struct {
	Set   bool
	ISO   string // RFC 3339, UTC
	Clock string // "2006-01-02 15:04:05 UTC"
	Ago   string // "3m 12s ago", "in 57m"
}

// sparkView is one generation's sessions over the history, as SVG
// polylines in a W×H box.
type sparkView struct {
	W, H  int
	Lines []string // each a polyline's points
	Now   int
	Max   int
	Label string
}

const (
	sparkW = 160
	sparkH = 32
)

// maxListed caps the sessions listed per generation.
const maxListed = 20

// atTime is t as the page shows it; a zero t is not set.
func atTime(t, now time.Time) timeView {
	if t.IsZero() {
		return timeView{}
	}
	return timeView{Set: true, ISO: t.UTC().Format(time.RFC3339), Clock: t.UTC().Format("2006-01-02 15:04:05 UTC"),
		Ago: fleet.Relative(t, now)}
}

// rollbackTo is the generation a rollback would make active: the newest
// detached one (the supervisor also checks that it still runs).
func rollbackTo(gens []fleet.Generation) int {
	to := 0
	for _, g := range gens {
		if g.State == fleet.Detached && g.ID > to {
			to = g.ID
		}
	}
	return to
}

func newLive(now time.Time, gens []fleet.Generation, sessions []fleet.Pin, h snapshot, token string) liveView {
	lv := liveView{Token: token, Now: atTime(now, now), Refresh: 10}
	st := fleet.NewStatus("", "", gens, fleet.PinStore{})
	lv.Active, lv.Revision, lv.Sessions = st.ActiveGeneration, st.Revision, st.Sessions
	if d := now.Sub(h.from); !h.from.IsZero() && d >= time.Second {
		lv.Span = fleet.Span(d)
	}
	byGen := map[int][]fleet.Pin{}
	for _, s := range sessions {
		byGen[s.Generation] = append(byGen[s.Generation], s)
	}
	for _, g := range fleet.Ordered(gens) {
		if g.State != fleet.Active {
			lv.Busy = true
		}
		v := genView{ID: g.ID, State: g.State, Revision: g.Revision, Unit: g.Unit, PIDs: fleet.JoinPIDs(g.PIDs, ", "),
			Sessions: g.Sessions, InFlight: g.InFlight, Upgraded: g.Upgraded,
			Started: atTime(g.Started, now), Detached: atTime(g.Detached, now), Deadline: atTime(g.Deadline, now),
			CanDetach: g.State == fleet.Active, CanRetire: g.State == fleet.Detached,
			Spark: spark(g.ID, h, now)}
		if !g.Started.IsZero() {
			v.Age = fleet.Span(max(now.Sub(g.Started), 0))
		}
		if !g.Detached.IsZero() {
			v.DetachedFor = fleet.Span(max(now.Sub(g.Detached), 0))
		}
		if !g.Deadline.IsZero() {
			if left := g.Deadline.Sub(now); left > 0 {
				v.TimeLeft = fleet.Span(left)
			} else {
				v.Overdue = true
			}
		}
		if g.State == fleet.Active {
			v.RollbackTo = rollbackTo(gens)
		}
		v.OnTrial = g.State == fleet.Canary
		if v.OnTrial && g.Trial != nil {
			v.Trial = newTrial(*g.Trial, st.ActiveGeneration, now)
		}
		ss := byGen[g.ID]
		slices.SortFunc(ss, func(a, b fleet.Pin) int {
			return cmp.Or(b.LastSeen.Compare(a.LastSeen), bytes.Compare(a.Key[:], b.Key[:]))
		})
		// The Core lists the most recent sessions only: the rest are
		// counted, from the generation's session count.
		for i, s := range ss {
			if i == maxListed {
				break
			}
			v.List = append(v.List, sessionView{Hash: s.Key.String(), Instance: s.Instance, Idle: fleet.Span(s.Idle(now))})
		}
		v.More = max(g.Sessions-len(v.List), 0)
		lv.Gens = append(lv.Gens, v)
	}
	if lv.Busy {
		lv.Refresh = 3
	}
	for _, g := range h.gone {
		what := "retired"
		switch g.seen.state {
		case fleet.Starting:
			what = "did not start"
		case fleet.Active:
			what = "stopped"
		}
		lv.Gone = append(lv.Gone, goneView{ID: g.id, Revision: g.seen.revision, What: what, At: atTime(g.at, now), Spark: spark(g.id, h, now)})
	}
	return lv
}

// spark draws generation id's session counts; the x axis runs from the
// oldest sample kept (at most an hour ago) to now, the y axis from 0 to
// the generation's own maximum.
func spark(id int, h snapshot, now time.Time) sparkView {
	v := sparkView{W: sparkW, H: sparkH}
	runs := h.series[id]
	for _, run := range runs {
		for _, p := range run {
			v.Max = max(v.Max, p.sessions)
		}
	}
	if len(runs) > 0 {
		last := runs[len(runs)-1]
		v.Now = last[len(last)-1].sessions
	}
	top := max(v.Max, 1)
	width := now.Sub(h.from)
	x := func(t time.Time) float64 {
		if width <= 0 {
			return sparkW
		}
		return float64(sparkW) * float64(t.Sub(h.from)) / float64(width)
	}
	y := func(n int) float64 { return float64(sparkH-2) - float64(sparkH-4)*float64(n)/float64(top) }
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
	for _, run := range runs {
		var b strings.Builder
		if len(run) == 1 {
			// One sample: a short flat stroke ending at it, so that it shows.
			fmt.Fprintf(&b, "%s,%s ", num(max(x(run[0].at)-4, 0)), num(y(run[0].sessions)))
		}
		for i, p := range run {
			if i > 0 {
				// Steps, not slopes: a count holds until the next sample.
				fmt.Fprintf(&b, "%s,%s ", num(x(p.at)), num(y(run[i-1].sessions)))
			}
			fmt.Fprintf(&b, "%s,%s ", num(x(p.at)), num(y(p.sessions)))
		}
		v.Lines = append(v.Lines, strings.TrimSpace(b.String()))
	}
	v.Label = fmt.Sprintf("sessions of generation %d: %d now, at most %d", id, v.Now, v.Max)
	if !h.from.IsZero() {
		v.Label += " in the last " + fleet.Span(width)
	}
	return v
}
