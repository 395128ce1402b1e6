package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
)

// writeStatus is `gatewayctl status`, laid out like `systemctl status`:
//
//	notes: gateway 1.4.0, org.gatewayd.Gateway1 on the system bus
//	   Active: generation 4 (revision 2026-11-20) since Fri 2026-11-20 10:04:05 UTC; up 3h12m
//	           gateway-gen4.scope, pids 1234, 1235; 12 sessions, 2 in flight, 0 upgraded
//	 Sessions: 13 pinned
//	 Detached: generation 3 (revision 2026-11-13) since Fri 2026-11-20 13:13:05 UTC; 3m12s ago
//	           gateway-gen3.scope, pids 1200; 1 session, 0 in flight, 0 upgraded
//	           drain deadline Fri 2026-11-20 21:13:05 UTC; in 7h59m
//
// The active generation first, then one starting, then the detached ones
// newest first (the next to retire last), then any in another state.
func writeStatus(w io.Writer, where string, props dbusapi.Properties, gens []dbusapi.Generation, now time.Time) error {
	var b strings.Builder
	app := props.App
	if app == "" {
		app = "gateway"
	}
	fmt.Fprintf(&b, "%s: gateway %s, %s\n", app, props.Version, where)
	i := slices.IndexFunc(gens, func(g dbusapi.Generation) bool { return g.State == "active" })
	if i < 0 {
		field(&b, "Active", "none")
	} else {
		describe(&b, "Active", gens[i], now)
	}
	field(&b, "Sessions", fmt.Sprintf("%d pinned", dbusapi.NewStatus(dbusapi.Info{}, gens).Sessions))
	if ps := props.PinStore; ps.Path != "" {
		describePinStore(&b, ps, now)
	}
	for _, state := range []string{"starting", "detached"} {
		for _, g := range slices.Backward(gens) {
			if g.State == state {
				describe(&b, capitalize(state), g, now)
			}
		}
	}
	for _, g := range gens {
		if g.State != "active" && g.State != "starting" && g.State != "detached" {
			describe(&b, capitalize(g.State), g, now)
		}
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
func describe(b *strings.Builder, label string, g dbusapi.Generation, now time.Time) {
	head := fmt.Sprintf("generation %d (revision %s)", g.ID, g.Revision)
	since := usecTime(g.StartedUSec)
	if g.State == "detached" {
		since = usecTime(g.DetachedUSec)
	}
	switch {
	case since == nil:
	case g.State == "active":
		head += fmt.Sprintf(" since %s; up %s", clock(*since), span(now.Sub(*since)))
	default:
		head += fmt.Sprintf(" since %s; %s", clock(*since), relative(*since, now))
	}
	field(b, label, head)

	var where []string
	if g.Unit != "" {
		where = append(where, g.Unit)
	}
	if len(g.PIDs) > 0 {
		where = append(where, "pids "+joinPIDs(g.PIDs, ", "))
	}
	traffic := fmt.Sprintf("%s, %d in flight, %d upgraded", plural(g.Sessions, "session"), g.InFlight, g.Upgraded)
	if g.State == "starting" {
		traffic = ""
	}
	if line := strings.Join(slices.DeleteFunc([]string{strings.Join(where, ", "), traffic}, isEmpty), "; "); line != "" {
		field(b, "", line)
	}

	if g.State == "detached" {
		if d := usecTime(g.DeadlineUSec); d != nil {
			field(b, "", fmt.Sprintf("drain deadline %s; %s", clock(*d), relative(*d, now)))
		} else {
			field(b, "", "no drain deadline: retires when its last session ends")
		}
	}
}

// describePinStore writes where the pins are kept and whether writing them
// works:
//
//	Pin store: /run/gateway/notes.pins, 40.2 MB; written 0s ago
//	Pin store: /run/gateway/notes.pins, 40.2 MB; FAILING (12 failed writes): <error>
//	           last written 5m ago; a restart now would lose the sessions changed since
func describePinStore(b *strings.Builder, ps dbusapi.PinStore, now time.Time) {
	head := fmt.Sprintf("%s, %.1f MB", ps.Path, float64(ps.Bytes)/1e6)
	last := "never written"
	if t := usecTime(ps.LastWriteUSec); t != nil {
		last = "written " + relative(*t, now)
	}
	if ps.Error == "" {
		field(b, "Pin store", head+"; "+last)
		return
	}
	field(b, "Pin store", fmt.Sprintf("%s; FAILING (%s): %s", head, plural(uint32(ps.WriteFailures), "failed write"), ps.Error))
	field(b, "", "last "+last+"; a restart now would lose the sessions changed since")
}

// writeGenerations is `gatewayctl generations`: one row per generation,
// times relative to now ("-" when not set).
func writeGenerations(w io.Writer, gens []dbusapi.Generation, now time.Time) error {
	rows := make([][]string, 0, len(gens))
	for _, g := range gens {
		rows = append(rows, []string{
			strconv.FormatUint(uint64(g.ID), 10),
			g.State,
			dash(g.Revision),
			dash(g.Unit),
			dash(joinPIDs(g.PIDs, ",")),
			strconv.FormatUint(uint64(g.Sessions), 10),
			strconv.FormatUint(uint64(g.InFlight), 10),
			strconv.FormatUint(uint64(g.Upgraded), 10),
			when(g.StartedUSec, now),
			when(g.DetachedUSec, now),
			when(g.DeadlineUSec, now),
		})
	}
	return table(w, []string{"GEN", "STATE", "REVISION", "UNIT", "PIDS", "SESSIONS", "IN-FLIGHT", "UPGRADED", "STARTED", "DETACHED", "DRAIN DEADLINE"}, rows)
}

// writeSessions is `gatewayctl sessions`.
func writeSessions(w io.Writer, ss []dbusapi.Session) error {
	rows := make([][]string, 0, len(ss))
	for _, s := range ss {
		rows = append(rows, []string{
			s.Hash,
			strconv.FormatUint(uint64(s.Generation), 10),
			strconv.FormatUint(uint64(s.Instance), 10),
			span(time.Duration(s.IdleSeconds) * time.Second),
		})
	}
	return table(w, []string{"SESSION", "GEN", "INSTANCE", "IDLE"}, rows)
}

// sortSessions orders sessions by generation and instance, the most
// recently active first: the API promises no order, and scripts diffing
// two listings want one.
func sortSessions(ss []dbusapi.Session) {
	slices.SortFunc(ss, func(a, b dbusapi.Session) int {
		return cmp.Or(
			cmp.Compare(a.Generation, b.Generation),
			cmp.Compare(a.Instance, b.Instance),
			cmp.Compare(a.IdleSeconds, b.IdleSeconds),
			strings.Compare(a.Hash, b.Hash),
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

// span is a duration as people read uptimes: whole seconds, the two
// largest units, a zero second unit left out ("45s", "3m12s", "7h59m",
// "2d3h", "5m").
func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	s := int64(d / time.Second)
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

// relative says when t is from now: "3m12s ago", "in 7h59m", "now". A
// deadline already passed reads "…ago".
func relative(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d > 0:
		return span(d) + " ago"
	}
	return "in " + span(-d)
}

// when is a table cell for an API time: relative, or "-" when not set.
func when(usec uint64, now time.Time) string {
	t := usecTime(usec)
	if t == nil {
		return "-"
	}
	return relative(*t, now)
}

// clock is an absolute time in local time, as systemctl status writes it.
func clock(t time.Time) string { return t.Local().Format("Mon 2006-01-02 15:04:05 MST") }

func joinPIDs(pids []uint32, sep string) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.FormatUint(uint64(p), 10)
	}
	return strings.Join(s, sep)
}

func plural(n uint32, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

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
