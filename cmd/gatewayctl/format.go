package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/fleet"
)

// writeStatus is `gatewayctl status`, laid out like `systemctl status`:
//
//	notes: gateway 1.4.0, org.gatewayd.Gateway1 on the system bus
//	   Active: generation 4 (revision 2026-11-20) since Fri 2026-11-20 10:04:05 UTC; up 3h12m
//	           gateway-gen4.scope, pids 1234, 1235; 12 sessions, 2 in flight, 0 upgraded
//	 Sessions: 13 pinned
//	   Canary: generation 5 (revision 2026-11-21) since Fri 2026-11-20 13:13:03 UTC; 3m14s ago
//	           gateway-gen5.scope, pids 1300; 2 sessions, 0 in flight, 0 upgraded
//	           10% of new sessions, on trial for 3m12s
//	           canary 250 requests, 5xx 0.40%, p99 40ms · active 2400 requests, 5xx 0.08%, p99 36ms
//	           judged by an admin (no [canary] judge): gatewayctl promote or gatewayctl abort
//	 Detached: generation 3 (revision 2026-11-13) since Fri 2026-11-20 13:13:05 UTC; 3m12s ago
//	           gateway-gen3.scope, pids 1200; 1 session, 0 in flight, 0 upgraded
//	           drain deadline Fri 2026-11-20 21:13:05 UTC; in 7h59m
//
// The active generation first, then the canary, then one starting, then
// the detached ones newest first (the next to retire last), then any in
// another state (fleet.Ordered).
func writeStatus(w io.Writer, where string, props dbusapi.Properties, gens []fleet.Generation, now time.Time) error {
	var b strings.Builder
	app := props.App
	if app == "" {
		app = "gateway"
	}
	fmt.Fprintf(&b, "%s: gateway %s, %s\n", app, props.Version, where)
	rest := fleet.Ordered(gens)
	if len(rest) > 0 && rest[0].State == fleet.Active {
		describe(&b, "Active", rest[0], now)
		rest = rest[1:]
	} else {
		field(&b, "Active", "none")
	}
	field(&b, "Sessions", fmt.Sprintf("%d pinned", fleet.NewStatus("", "", gens, fleet.PinStore{}).Sessions))
	if ps := props.PinStore; ps.Path != "" {
		describePinStore(&b, ps, now)
	}
	describeListeners(&b, props.Listeners, now)
	for _, g := range rest {
		describe(&b, capitalize(string(g.State)), g, now)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// field writes one labelled line of the status; an empty label continues
// the field above.
func field(b *strings.Builder, label, text string) {
	if label != "" {
		label += ":"
	}
	fmt.Fprintf(b, "%10s %s\n", label, text)
}

// describe writes a generation under its label: since when (uptime for
// the active one), where it runs, its traffic, and a detached one's drain
// deadline.
func describe(b *strings.Builder, label string, g fleet.Generation, now time.Time) {
	head := fmt.Sprintf("generation %d (revision %s)", g.ID, g.Revision)
	since := g.Started
	if g.State == fleet.Detached {
		since = g.Detached
	}
	switch {
	case since.IsZero():
	case g.State == fleet.Active:
		head += fmt.Sprintf(" since %s; up %s", clock(since), fleet.Span(now.Sub(since)))
	default:
		head += fmt.Sprintf(" since %s; %s", clock(since), fleet.Relative(since, now))
	}
	field(b, label, head)

	var where []string
	if g.Unit != "" {
		where = append(where, g.Unit)
	}
	if len(g.PIDs) > 0 {
		where = append(where, "pids "+fleet.JoinPIDs(g.PIDs, ", "))
	}
	traffic := fmt.Sprintf("%s, %d in flight, %d upgraded", fleet.Plural(g.Sessions, "session"), g.InFlight, g.Upgraded)
	if g.State == fleet.Starting {
		traffic = ""
	}
	if line := strings.Join(slices.DeleteFunc([]string{strings.Join(where, ", "), traffic}, isEmpty), "; "); line != "" {
		field(b, "", line)
	}

	if g.State == fleet.Canary && g.Trial != nil {
		describeTrial(b, *g.Trial, now)
	}
	if g.State == fleet.Detached {
		if d := g.Deadline; !d.IsZero() {
			field(b, "", fmt.Sprintf("drain deadline %s; %s", clock(d), fleet.Relative(d, now)))
		} else {
			field(b, "", "no drain deadline: retires when its last session ends")
		}
	}
}

// describeTrial writes a canary's trial: its share, the figures it is
// judged by beside the active generation's over the same span, and who
// judges it: the [canary] judge, with its settings and what it makes of
// the figures now, or an admin, with the commands that end a trial.
//
//	10% of new sessions, on trial for 3m12s
//	canary 250 requests, 5xx 0.40%, p99 40ms · active 2400 requests, 5xx 0.08%, p99 36ms
//	judged by [canary]: aborted at 5xx > active + 1 point or p99 > active + 50% (at least 10ms), once it has 200 requests; promoted after 30m
//	verdict: within the margins so far: 5xx 0.40% against 0.08%, p99 40ms against 36ms over 250 and 2400 answers
func describeTrial(b *strings.Builder, t fleet.Trial, now time.Time) {
	field(b, "", fleet.TrialLine(t, now))
	field(b, "", fleet.TrialFigures(t))
	if t.Judge == nil {
		field(b, "", fleet.JudgeLine(nil)+": gatewayctl promote or gatewayctl abort")
		return
	}
	field(b, "", fleet.JudgeLine(t.Judge))
	if t.Verdict != "" {
		field(b, "", "verdict: "+t.Verdict)
	}
}

// describePinStore writes where the pins are kept and whether writing them
// works:
//
//	Pin store: /run/gateway/notes.pins, 40.2 MB; written 0s ago
//	Pin store: /run/gateway/notes.pins, 40.2 MB; FAILING (12 failed writes): <error>
//	           last written 5m ago; a restart now would lose the sessions changed since
func describePinStore(b *strings.Builder, ps fleet.PinStore, now time.Time) {
	head := fmt.Sprintf("%s, %.1f MB", ps.Path, float64(ps.Bytes)/1e6)
	last := "never written"
	if !ps.LastWrite.IsZero() {
		last = "written " + fleet.Relative(ps.LastWrite, now)
	}
	if ps.Error == "" {
		field(b, "Pin store", head+"; "+last)
		return
	}
	field(b, "Pin store", fmt.Sprintf("%s; FAILING (%s): %s", head, fleet.Plural(int(ps.WriteFailures), "failed write"), ps.Error))
	field(b, "", "last "+last+"; a restart now would lose the sessions changed since")
}

// describeListeners writes what each listener speaks, and until when its
// certificates are valid:
//
//	Listen: 127.0.0.1:8080: HTTP/1.1
//	        https 0.0.0.0:443: TLS, HTTP/2 and HTTP/1.1, PROXY protocol
//	        certificate /etc/ssl/site.pem (site.test); expires 2027-02-01 09:00 UTC, in 61d
func describeListeners(b *strings.Builder, ls []fleet.Listener, now time.Time) {
	label := "Listen"
	for _, l := range ls {
		what := []string{"HTTP/1.1"}
		switch {
		case l.TLS && l.HTTP2:
			what = []string{"TLS, HTTP/2 and HTTP/1.1"}
		case l.TLS:
			what = []string{"TLS, HTTP/1.1"}
		case l.RedirectHTTPS != 0:
			what = []string{fmt.Sprintf("redirects to HTTPS on port %d", l.RedirectHTTPS)}
		}
		if l.ProxyProtocol {
			what = append(what, "PROXY protocol")
		}
		field(b, label, strings.TrimSpace(l.Name+" "+l.Address)+": "+strings.Join(what, ", "))
		label = ""
		for _, c := range l.Certificates {
			field(b, "", fmt.Sprintf("certificate %s (%s); expires %s, %s", c.File, strings.Join(c.Names, ", "),
				c.NotAfter.UTC().Format("2006-01-02 15:04 MST"), fleet.Relative(c.NotAfter, now)))
		}
	}
}

// writeGenerations is `gatewayctl generations`: one row per generation,
// times relative to now ("-" when not set).
func writeGenerations(w io.Writer, gens []fleet.Generation, now time.Time) error {
	rows := make([][]string, 0, len(gens))
	for _, g := range gens {
		rows = append(rows, []string{
			strconv.Itoa(g.ID),
			string(g.State),
			dash(g.Revision),
			dash(g.Unit),
			dash(fleet.JoinPIDs(g.PIDs, ",")),
			strconv.Itoa(g.Sessions),
			strconv.Itoa(g.InFlight),
			strconv.Itoa(g.Upgraded),
			when(g.Started, now),
			when(g.Detached, now),
			when(g.Deadline, now),
		})
	}
	return table(w, []string{"GEN", "STATE", "REVISION", "UNIT", "PIDS", "SESSIONS", "IN-FLIGHT", "UPGRADED", "STARTED", "DETACHED", "DRAIN DEADLINE"}, rows)
}

// writeSessions is `gatewayctl sessions`.
func writeSessions(w io.Writer, ss []fleet.Pin, now time.Time) error {
	rows := make([][]string, 0, len(ss))
	for _, s := range ss {
		rows = append(rows, []string{
			s.Key.String(),
			strconv.Itoa(s.Generation),
			strconv.Itoa(s.Instance),
			fleet.Span(s.Idle(now)),
		})
	}
	return table(w, []string{"SESSION", "GEN", "INSTANCE", "IDLE"}, rows)
}

// sortSessions orders sessions by generation and instance, the most
// recently active first: the API promises no order, and scripts diffing
// two listings want one.
func sortSessions(ss []fleet.Pin) {
	slices.SortFunc(ss, func(a, b fleet.Pin) int {
		return cmp.Or(
			cmp.Compare(a.Generation, b.Generation),
			cmp.Compare(a.Instance, b.Instance),
			b.LastSeen.Compare(a.LastSeen),
			bytes.Compare(a.Key[:], b.Key[:]),
		)
	})
}

// table aligns rows under a header in columns two spaces apart. Cells
// never contain tabs: the API's strings are labels, unit names and hashes.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// when is a table cell for an API time: relative, or "-" when not set.
func when(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fleet.Relative(t, now)
}

// clock is an absolute time in local time, as systemctl status writes it.
func clock(t time.Time) string { return t.Local().Format("Mon 2006-01-02 15:04:05 MST") }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func isEmpty(s string) bool { return s == "" }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
