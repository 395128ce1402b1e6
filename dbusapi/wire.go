package dbusapi

import (
	"math"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// The API's structs as they travel on the bus: fixed-size integers, times
// as Unix microseconds (0: not set), as systemd gives its own timestamps.
// Their field order is the signature; both ends convert from and to the
// fleet package's shapes here, and nowhere else.

// wireGeneration is a fleet.Generation: (usssauuuuttt).
type wireGeneration struct {
	ID           uint32
	State        string
	Revision     string
	Unit         string
	PIDs         []uint32
	Sessions     uint32
	InFlight     uint32
	Upgraded     uint32
	StartedUSec  uint64
	DetachedUSec uint64
	DeadlineUSec uint64
}

// wireSession is a fleet.Pin: (suuu), its idle time in whole seconds.
type wireSession struct {
	Hash        string
	Generation  uint32
	Instance    uint32
	IdleSeconds uint32
}

func toWire(g fleet.Generation) wireGeneration {
	w := wireGeneration{ID: uint32(g.ID), State: string(g.State), Revision: g.Revision, Unit: g.Unit,
		PIDs: make([]uint32, len(g.PIDs)), Sessions: uint32(g.Sessions), InFlight: uint32(g.InFlight),
		Upgraded: uint32(g.Upgraded), StartedUSec: usec(g.Started), DetachedUSec: usec(g.Detached),
		DeadlineUSec: usec(g.Deadline)}
	for i, p := range g.PIDs {
		w.PIDs[i] = uint32(p)
	}
	return w
}

func fromWire(w wireGeneration) fleet.Generation {
	g := fleet.Generation{ID: int(w.ID), State: fleet.State(w.State), Revision: w.Revision, Unit: w.Unit,
		Usage:   fleet.Usage{Sessions: int(w.Sessions), InFlight: int(w.InFlight), Upgraded: int(w.Upgraded)},
		Started: fromUSec(w.StartedUSec), Detached: fromUSec(w.DetachedUSec), Deadline: fromUSec(w.DeadlineUSec)}
	for _, p := range w.PIDs {
		g.PIDs = append(g.PIDs, int(p))
	}
	return g
}

func sessionToWire(p fleet.Pin, now time.Time) wireSession {
	return wireSession{Hash: p.Key.String(), Generation: uint32(p.Generation), Instance: uint32(p.Instance),
		IdleSeconds: uint32(p.Idle(now) / time.Second)}
}

// sessionFromWire turns the idle time back into a last-seen time; a hash
// that is not one (a server of another version) is skipped.
func sessionFromWire(w wireSession, now time.Time) (fleet.Pin, bool) {
	k, err := fleet.ParseSessionKey(w.Hash)
	return fleet.Pin{Key: k, Generation: int(w.Generation), Instance: int(w.Instance),
		LastSeen: now.Add(-time.Duration(w.IdleSeconds) * time.Second)}, err == nil
}

// wireTrial is what GetTrial answers: the canary's trial as the method's
// out arguments, in this order (budt(ttt)(ttt)b(tddtt)s). Running is
// false, and the rest zero, without a canary; Judged is false, and Judge
// zero, when an admin decides.
type wireTrial struct {
	Running     bool
	Generation  uint32
	Share       float64 // of new sessions, 0 to 1
	StartedUSec uint64
	Canary      wireSummary
	Active      wireSummary
	Judged      bool
	Judge       wireJudge
	Verdict     string
}

// wireSummary is a fleet.Summary: (ttt).
type wireSummary struct {
	Requests uint64
	Errors   uint64
	P99USec  uint64
}

// wireJudge is a fleet.Judge: (tddtt), margins as fractions.
type wireJudge struct {
	MinRequests      uint64
	ErrorMargin      float64
	LatencyMargin    float64
	LatencyMinUSec   uint64
	PromoteAfterUSec uint64
}

// trialToWire is the trial of the canary among gens: the one the status
// document shows on it, so that both fronts read the same figures.
func trialToWire(gens []fleet.Generation) wireTrial {
	for _, g := range gens {
		if g.State != fleet.Canary || g.Trial == nil {
			continue
		}
		t := g.Trial
		w := wireTrial{Running: true, Generation: uint32(g.ID), Share: t.Share, StartedUSec: usec(t.Started),
			Canary: summaryToWire(t.Canary), Active: summaryToWire(t.Active), Verdict: t.Verdict}
		if j := t.Judge; j != nil {
			w.Judged = true
			w.Judge = wireJudge{MinRequests: j.MinRequests, ErrorMargin: j.ErrorMargin, LatencyMargin: j.LatencyMargin,
				LatencyMinUSec: durUSec(j.LatencyMin), PromoteAfterUSec: durUSec(j.PromoteAfter)}
		}
		return w
	}
	return wireTrial{}
}

// fromWire is the trial and the generation on it; nil without a canary.
func (w wireTrial) fromWire() (int, *fleet.Trial) {
	if !w.Running {
		return 0, nil
	}
	t := &fleet.Trial{Share: w.Share, Started: fromUSec(w.StartedUSec), Canary: summaryFromWire(w.Canary),
		Active: summaryFromWire(w.Active), Verdict: w.Verdict}
	if w.Judged {
		j := w.Judge
		t.Judge = &fleet.Judge{MinRequests: j.MinRequests, ErrorMargin: j.ErrorMargin, LatencyMargin: j.LatencyMargin,
			LatencyMin: fromDurUSec(j.LatencyMinUSec), PromoteAfter: fromDurUSec(j.PromoteAfterUSec)}
	}
	return int(w.Generation), t
}

// into is where a reply's out arguments are stored, in their order.
func (w *wireTrial) into() []any {
	return []any{&w.Running, &w.Generation, &w.Share, &w.StartedUSec, &w.Canary, &w.Active, &w.Judged, &w.Judge, &w.Verdict}
}

func summaryToWire(s fleet.Summary) wireSummary {
	return wireSummary{Requests: s.Requests, Errors: s.Errors, P99USec: durUSec(s.P99)}
}

func summaryFromWire(w wireSummary) fleet.Summary {
	return fleet.Summary{Requests: w.Requests, Errors: w.Errors, P99: fromDurUSec(w.P99USec)}
}

// durUSec is a duration in whole microseconds, 0 for a negative one.
func durUSec(d time.Duration) uint64 { return uint64(max(d, 0) / time.Microsecond) }

// fromDurUSec undoes durUSec; a count past what a Duration holds (292
// years) stays the largest one rather than wrapping to a negative.
func fromDurUSec(u uint64) time.Duration {
	return time.Duration(min(u, uint64(math.MaxInt64/int64(time.Microsecond)))) * time.Microsecond
}

func usec(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMicro())
}

func fromUSec(u uint64) time.Time {
	if u == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(u)).UTC()
}

// wireListener is a fleet.Listener: (ssbbbqa(sast)).
type wireListener struct {
	Name          string
	Address       string
	TLS           bool
	HTTP2         bool
	ProxyProtocol bool
	RedirectHTTPS uint16
	Certificates  []wireCertificate
}

// wireCertificate is a fleet.Certificate: (sast).
type wireCertificate struct {
	File         string
	Names        []string
	NotAfterUSec uint64
}

func listenersToWire(ls []fleet.Listener) []wireListener {
	out := make([]wireListener, 0, len(ls))
	for _, l := range ls {
		w := wireListener{Name: l.Name, Address: l.Address, TLS: l.TLS, HTTP2: l.HTTP2, ProxyProtocol: l.ProxyProtocol,
			RedirectHTTPS: uint16(l.RedirectHTTPS), Certificates: make([]wireCertificate, 0, len(l.Certificates))}
		for _, c := range l.Certificates {
			w.Certificates = append(w.Certificates, wireCertificate{File: c.File, Names: append([]string{}, c.Names...), NotAfterUSec: usec(c.NotAfter)})
		}
		out = append(out, w)
	}
	return out
}

func listenersFromWire(ws []wireListener) []fleet.Listener {
	out := make([]fleet.Listener, 0, len(ws))
	for _, w := range ws {
		l := fleet.Listener{Name: w.Name, Address: w.Address, TLS: w.TLS, HTTP2: w.HTTP2, ProxyProtocol: w.ProxyProtocol,
			RedirectHTTPS: int(w.RedirectHTTPS), Certificates: []fleet.Certificate{}}
		for _, c := range w.Certificates {
			l.Certificates = append(l.Certificates, fleet.Certificate{File: c.File, Names: c.Names, NotAfter: fromUSec(c.NotAfterUSec)})
		}
		out = append(out, l)
	}
	return out
}
