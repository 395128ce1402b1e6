package admin

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
)

// The page's data, computed before rendering so that the templates only
// lay it out.

// pageView is the whole page.
type pageView struct {
	App, Version string
	Flash        *flash
	Live         liveView
	Metrics      bool // /metrics is served
}

// liveView is the part of the page that /live serves and the script
// replaces.
type liveView struct {
	Token string // the CSRF token of the forms
	Now   timeView
	Err   string // the Core could not be read
	// PinStoreErr says that the pin store cannot write, and what it risks.
	PinStoreErr string
	Active      uint32
	Revision    string
	Sessions    uint32
	// Busy is set while a generation starts or drains: the page updates
	// every 2 s rather than every 10 s.
	Busy    bool
	Gens    []genView
	Gone    []goneView
	Span    string // how far back the sparklines go
	Refresh int    // seconds, for the page without script
}

type genView struct {
	ID                           uint32
	State, Revision, Unit, PIDs  string
	Sessions, InFlight, Upgraded uint32
	Started, Detached, Deadline  timeView
	Age                          string // since it started
	DetachedFor                  string // since it was detached
	TimeLeft                     string // until the drain deadline
	Overdue                      bool   // the deadline has passed
	CanDetach, CanRetire         bool
	Spark                        sparkView
	List                         []sessionView
	More                         int // sessions not listed
}

type sessionView struct {
	Hash     string
	Instance uint32
	Idle     string
}

type goneView struct {
	ID       uint32
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
	Now   uint32
	Max   uint32
	Label string
}

const (
	sparkW = 160
	sparkH = 32
)

// maxListed caps the sessions listed per generation.
const maxListed = 20

func newTime(usec uint64, now time.Time) timeView {
	t := dbusapi.USecTime(usec)
	if t == nil {
		return timeView{}
	}
	return atTime(*t, now)
}

func atTime(t, now time.Time) timeView {
	v := timeView{Set: true, ISO: t.UTC().Format(time.RFC3339), Clock: t.UTC().Format("2006-01-02 15:04:05 UTC")}
	if d := now.Sub(t); d >= 0 {
		v.Ago = span(d) + " ago"
	} else {
		v.Ago = "in " + span(-d)
	}
	return v
}

// span is a duration as people read it: "42s", "3m 12s", "2h 05m", "3d 4h".
func span(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// order is how the page lists generations, like `gatewayctl status`: the
// active one, then one starting, then the detached ones newest first, then
// any other.
func order(g dbusapi.Generation) int {
	switch g.State {
	case "active":
		return 0
	case "starting":
		return 1
	case "detached":
		return 2
	}
	return 3
}

func newLive(now time.Time, gens []dbusapi.Generation, sessions []dbusapi.Session, h snapshot, token string) liveView {
	lv := liveView{Token: token, Now: atTime(now, now), Refresh: 10}
	st := dbusapi.NewStatus(dbusapi.Info{}, gens)
	lv.Active, lv.Revision, lv.Sessions = st.ActiveGeneration, st.Revision, st.Sessions
	if d := now.Sub(h.from); !h.from.IsZero() && d >= time.Second {
		lv.Span = span(d)
	}
	byGen := map[uint32][]dbusapi.Session{}
	for _, s := range sessions {
		byGen[s.Generation] = append(byGen[s.Generation], s)
	}
	gens = slices.Clone(gens)
	slices.SortStableFunc(gens, func(a, b dbusapi.Generation) int {
		return cmp.Or(cmp.Compare(order(a), order(b)), cmp.Compare(b.ID, a.ID))
	})
	for _, g := range gens {
		if g.State != "active" {
			lv.Busy = true
		}
		v := genView{ID: g.ID, State: g.State, Revision: g.Revision, Unit: g.Unit, PIDs: joinPIDs(g.PIDs),
			Sessions: g.Sessions, InFlight: g.InFlight, Upgraded: g.Upgraded,
			Started: newTime(g.StartedUSec, now), Detached: newTime(g.DetachedUSec, now), Deadline: newTime(g.DeadlineUSec, now),
			CanDetach: g.State == "active", CanRetire: g.State == "detached",
			Spark: spark(g.ID, h, now)}
		if t := dbusapi.USecTime(g.StartedUSec); t != nil {
			v.Age = span(max(now.Sub(*t), 0))
		}
		if t := dbusapi.USecTime(g.DetachedUSec); t != nil {
			v.DetachedFor = span(max(now.Sub(*t), 0))
		}
		if t := dbusapi.USecTime(g.DeadlineUSec); t != nil {
			if left := t.Sub(now); left > 0 {
				v.TimeLeft = span(left)
			} else {
				v.Overdue = true
			}
		}
		ss := byGen[g.ID]
		slices.SortFunc(ss, func(a, b dbusapi.Session) int {
			return cmp.Or(cmp.Compare(a.IdleSeconds, b.IdleSeconds), strings.Compare(a.Hash, b.Hash))
		})
		// The Core lists the most recent sessions only: the rest are
		// counted, from the generation's session count.
		for i, s := range ss {
			if i == maxListed {
				break
			}
			v.List = append(v.List, sessionView{Hash: s.Hash, Instance: s.Instance, Idle: span(time.Duration(s.IdleSeconds) * time.Second)})
		}
		v.More = max(int(g.Sessions)-len(v.List), 0)
		lv.Gens = append(lv.Gens, v)
	}
	if lv.Busy {
		lv.Refresh = 3
	}
	for _, g := range h.gone {
		what := "retired"
		switch g.seen.state {
		case "starting":
			what = "did not start"
		case "active":
			what = "stopped"
		}
		lv.Gone = append(lv.Gone, goneView{ID: g.id, Revision: g.seen.revision, What: what, At: atTime(g.at, now), Spark: spark(g.id, h, now)})
	}
	return lv
}

// spark draws generation id's session counts; the x axis runs from the
// oldest sample kept (at most an hour ago) to now, the y axis from 0 to
// the generation's own maximum.
func spark(id uint32, h snapshot, now time.Time) sparkView {
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
	y := func(n uint32) float64 { return float64(sparkH-2) - float64(sparkH-4)*float64(n)/float64(top) }
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
		v.Label += " in the last " + span(width)
	}
	return v
}

func joinPIDs(pids []uint32) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.FormatUint(uint64(p), 10)
	}
	return strings.Join(s, ", ")
}
