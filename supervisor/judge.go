package supervisor

import (
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/fleet"
)

// trial is a canary's trial once it is routed: the figures it is judged
// by are counted from then, the canary's and the active generation's
// alike, so that both cover the same span (the same hours of the day, the
// same load).
type trial struct {
	started            time.Time
	canaryAt, activeAt fleet.Figures // their readings when it started
	judge              *fleet.Judge  // nil: an admin decides
}

func (s *Supervisor) newTrial(g *generation) *trial {
	return &trial{started: time.Now(), canaryAt: s.o.Figures(g.id), activeAt: s.o.Figures(s.active.id),
		judge: judgeOf(g.cfg.Canary)}
}

// judgeOf is the judge of a [canary] table; nil when it is off.
func judgeOf(c config.Canary) *fleet.Judge {
	if !c.Judge {
		return nil
	}
	errs, latency := c.Margins()
	return &fleet.Judge{MinRequests: uint64(c.MinRequests), ErrorMargin: errs, LatencyMargin: latency,
		LatencyMin: c.LatencyMarginMin.Duration, PromoteAfter: c.PromoteAfter.Duration}
}

// figures are the canary's and the active generation's answers since the
// trial started.
func (s *Supervisor) figures() (canary, active fleet.Summary) {
	t := s.trial
	return s.o.Figures(s.canary.id).Sub(t.canaryAt).Summary(), s.o.Figures(s.active.id).Sub(t.activeAt).Summary()
}

// trialInfo is the trial as status shows it: the figures and the verdict
// are those the judge decides by.
func (s *Supervisor) trialInfo(now time.Time) *fleet.Trial {
	t := s.trial
	if t == nil {
		return nil
	}
	c, a := s.figures()
	info := &fleet.Trial{Share: s.share, Started: t.started, Canary: c, Active: a, Judge: t.judge}
	if t.judge != nil {
		_, info.Verdict = t.judge.Decide(c, a, now.Sub(t.started))
	}
	return info
}

// judgeTrial runs on every tick: a judged canary is aborted or promoted
// as soon as its figures say so, and the decision is logged with them.
func (s *Supervisor) judgeTrial(now time.Time) {
	t := s.trial
	if s.canary == nil || t == nil || t.judge == nil {
		return
	}
	c, a := s.figures()
	d, why := t.judge.Decide(c, a, now.Sub(t.started))
	if d == fleet.Wait {
		return
	}
	figures := []any{"by", "judge", "on_trial", now.Sub(t.started).Round(time.Millisecond).String(),
		"canary_requests", c.Requests, "canary_errors", c.Errors, "canary_error_rate", c.ErrorRate(), "canary_p99", c.P99.String(),
		"active_requests", a.Requests, "active_errors", a.Errors, "active_error_rate", a.ErrorRate(), "active_p99", a.P99.String()}
	if d == fleet.AbortCanary {
		s.abortCanary(false, why, figures...)
		return
	}
	s.promote(why, figures...)
}
