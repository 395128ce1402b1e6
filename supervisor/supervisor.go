package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/fleet"
)

// Sentinel errors callers branch on; those the fronts tell apart are
// fleet's (fleet.ErrNoSuchGeneration, fleet.ErrInvalidState).
var (
	ErrStopped          = errors.New("the supervisor has stopped")
	ErrNoGenerationLeft = errors.New("every generation number is used")
)

// Options configure a Supervisor.
type Options struct {
	// Config is the configuration the first generation starts with. Required.
	Config *config.Config
	// Load re-reads the configuration for an upgrade. If nil, config.Load of
	// Config.File.
	Load    func() (*config.Config, error)
	Runner  Runner  // required
	Traffic Traffic // required
	// Logger receives the supervisor's logs. If nil, slog.Default().
	Logger *slog.Logger
	// Tick is how often detached generations are checked even without a
	// notification. If zero, 250ms.
	Tick time.Duration
	// OnChange is called on the loop after generations changed (started,
	// activated, detached, retired…), and at most once a second while the
	// proxy notifies (session counts changed); it must not block. The
	// gateway uses it to update its status line and D-Bus properties. If
	// nil, nothing is called.
	OnChange func()
	// Observer is told of retired and lost generations and of lost
	// sessions, for metrics. If nil, nothing is.
	Observer Observer
	// PinsWritten is when the pins restored at start were last written
	// (zero if there were none): sessions pinned after it may be missing.
	PinsWritten time.Time
	// Figures reads what a generation has answered, as the proxy's
	// Observer counts it (internal/metrics): a canary is judged by it and
	// its trial shows it. If nil, every generation has answered nothing,
	// and a judged canary waits for its first answers until an admin
	// decides.
	Figures func(gen int) fleet.Figures
}

// Supervisor runs the generations of one app. Create it with New, run it
// with Run; every other method talks to Run's goroutine.
type Supervisor struct {
	o        Options
	log      *slog.Logger
	reqs     chan func()
	events   chan func()
	ready    chan struct{}
	restored chan struct{} // closed once the previous run's state is taken over
	quit     chan struct{} // closed when Run's loop ends
	ctx      context.Context

	// Owned by the loop.
	cfg       *config.Config
	gens      map[int]*generation
	active    *generation
	canary    *generation // on trial beside active; nil: none
	share     float64     // of new sessions the canary gets
	trial     *trial      // the canary's, once it is routed
	starting  *generation
	waiters   []chan<- upgradeResult // of the generation starting
	queued    []chan<- upgradeResult // of the upgrade that follows it
	queuedN   atomic.Int32           // len(queued), for UpgradesQueued
	nextID    int
	pending   int  // goroutines that will send an event
	watchers  int  // of which: watching a worker's exit
	dirty     bool // the state file is behind
	lastSave  time.Time
	stale     bool // session counts changed since OnChange was last called
	lastShown time.Time
	readyOnce bool
	stopping  bool
	fatal     error
}

type upgradeResult struct {
	gen int
	err error
}

// New checks o and returns a Supervisor that does nothing until Run.
func New(o Options) (*Supervisor, error) {
	if o.Config == nil || o.Runner == nil || o.Traffic == nil {
		return nil, errors.New("supervisor: Options.Config, Runner and Traffic are required")
	}
	if o.Load == nil {
		file := o.Config.File
		o.Load = func() (*config.Config, error) { return config.Load(file) }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Tick <= 0 {
		o.Tick = 250 * time.Millisecond
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	if o.Figures == nil {
		o.Figures = func(int) fleet.Figures { return fleet.Figures{} }
	}
	return &Supervisor{
		o: o, log: o.Logger, cfg: o.Config,
		reqs: make(chan func()), events: make(chan func()),
		ready: make(chan struct{}), restored: make(chan struct{}), quit: make(chan struct{}),
		gens: map[int]*generation{}, nextID: 1,
	}, nil
}

// UpgradesQueued is how many upgrade requests wait for the generation
// starting now (they will share one follow-up upgrade).
func (s *Supervisor) UpgradesQueued() int { return int(s.queuedN.Load()) }

// Ready is closed once the first generation is active.
func (s *Supervisor) Ready() <-chan struct{} { return s.ready }

// Restored is closed once Run has taken over the previous run's state (the
// generations it re-adopted are routed): a proxy that starts serving only
// then sends no request of a re-adopted session anywhere else.
func (s *Supervisor) Restored() <-chan struct{} { return s.restored }

// Done is closed when Run has returned.
func (s *Supervisor) Done() <-chan struct{} { return s.quit }

// Run starts the first generation and runs the loop until ctx ends, then
// stops every worker and saves the state. It returns an error if the first
// generation cannot start.
func (s *Supervisor) Run(ctx context.Context) error {
	s.ctx = ctx
	defer close(s.quit)
	s.restore()
	close(s.restored)
	if s.active == nil {
		s.beginUpgrade(s.cfg, false)
	} else {
		s.readyOnce = true
		close(s.ready)
	}
	var stopReqs <-chan int
	if m := s.o.Runner.Manager(); m != nil {
		stopReqs = m.StopRequests()
	}
	tick := time.NewTicker(s.o.Tick)
	defer tick.Stop()
	for s.fatal == nil {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case id := <-stopReqs:
			s.stopRequested(id)
		case req := <-s.reqs:
			req()
		case ev := <-s.events:
			s.pending--
			ev()
		case <-s.o.Traffic.SessionsChanged():
			s.stale = true
			s.check(time.Now())
		case <-s.o.Traffic.RequestsDone():
			s.check(time.Now())
		case now := <-tick.C:
			s.check(now)
			s.judgeTrial(now)
		}
	}
	s.shutdown()
	return s.fatal
}

// do runs f on the loop and waits for it.
func (s *Supervisor) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case s.reqs <- func() { f(); close(done) }:
	case <-s.quit:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// send delivers an event from a goroutine the loop started (and counted in
// pending); after the loop has ended it is dropped.
func (s *Supervisor) send(ev func()) {
	select {
	case s.events <- ev:
	case <-s.quit:
	}
}

// goEvent starts f on its own goroutine; the event it returns runs on the loop.
func (s *Supervisor) goEvent(f func() func()) {
	s.pending++
	go func() { s.send(f()) }()
}

// Upgrade re-reads the configuration and starts a new generation; it returns
// the new generation's number once that generation is active, or why not
// (the previous generation then stays active). A canary running when the
// upgrade begins is aborted first (detached, keeping its sessions): the
// upgrade says which revision is wanted, and a trial of another one beside
// it would no longer be judged against the active generation it was
// started beside.
func (s *Supervisor) Upgrade(ctx context.Context) (int, error) {
	res := make(chan upgradeResult, 1)
	if err := s.do(ctx, func() { s.requestUpgrade(res) }); err != nil {
		return 0, err
	}
	return s.await(ctx, res)
}

// await waits for the result of an upgrade that has begun.
func (s *Supervisor) await(ctx context.Context, res <-chan upgradeResult) (int, error) {
	select {
	case r := <-res:
		return r.gen, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.quit:
		return 0, ErrStopped
	}
}

// Ping returns once the loop has answered: the watchdog's proof that the
// supervisor is not stuck.
func (s *Supervisor) Ping(ctx context.Context) error { return s.do(ctx, func() {}) }

// Generations reports every generation that is not yet retired, oldest first.
func (s *Supervisor) Generations(ctx context.Context) ([]fleet.Generation, error) {
	var out []fleet.Generation
	err := s.do(ctx, func() {
		m := s.o.Runner.Manager()
		for _, g := range s.sorted() {
			unit := ""
			if m != nil {
				unit = m.UnitName(g.id)
			}
			gi := g.info(s.o.Traffic.Usage(g.id), unit)
			if g == s.canary {
				gi.Trial = s.trialInfo(time.Now())
			}
			out = append(out, gi)
		}
	})
	return out, err
}

// Detach detaches the active generation id by starting a replacement on
// the current configuration (as an upgrade does) and returns the
// replacement's number. It is refused for any generation but the active one.
func (s *Supervisor) Detach(ctx context.Context, id int) (int, error) {
	var err error
	if derr := s.do(ctx, func() {
		switch g := s.gens[id]; {
		case g == nil:
			err = fmt.Errorf("generation %d: %w", id, fleet.ErrNoSuchGeneration)
		case g != s.active:
			err = fmt.Errorf("generation %d is %s: only the active generation can be detached: %w", id, g.state, fleet.ErrInvalidState)
		}
	}); derr != nil {
		return 0, derr
	}
	if err != nil {
		return 0, err
	}
	return s.Upgrade(ctx)
}

// Retire stops a detached generation now; with force, its sessions are
// dropped and its held connections closed over the drain close window.
// Without force, it is refused while sessions remain.
func (s *Supervisor) Retire(ctx context.Context, id int, force bool) error {
	var err error
	if derr := s.do(ctx, func() { err = s.requestRetire(id, force) }); derr != nil {
		return derr
	}
	return err
}

func (s *Supervisor) requestRetire(id int, force bool) error {
	g := s.gens[id]
	if g == nil {
		return fmt.Errorf("generation %d: %w", id, fleet.ErrNoSuchGeneration)
	}
	if g.state != fleet.Detached {
		return fmt.Errorf("generation %d is %s: only a detached generation can be retired: %w", id, g.state, fleet.ErrInvalidState)
	}
	if u := s.o.Traffic.Usage(id); !force && !u.Idle() {
		return fmt.Errorf("generation %d still has %d sessions, %d requests and %d upgraded connections: retire it with force to drop them: %w", id, u.Sessions, u.InFlight, u.Upgraded, fleet.ErrInvalidState)
	}
	s.retire(g, "retired by an admin", force)
	return nil
}

func (s *Supervisor) sorted() []*generation {
	out := make([]*generation, 0, len(s.gens))
	for _, g := range s.gens {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// publish tells the proxy which generations may receive requests.
func (s *Supervisor) publish() {
	r := &fleet.Routes{}
	if s.active != nil {
		r.Active = s.active.route()
	}
	if s.canary != nil {
		r.Canary, r.CanaryShare = s.canary.route(), s.share
	}
	for _, g := range s.sorted() {
		if g.state == fleet.Detached {
			r.Detached = append(r.Detached, g.route())
		}
	}
	s.o.Traffic.Publish(r)
	// Saved at once, not with the 1 s debounce of other changes: a gateway
	// killed right after a generation became active or detached must come
	// back with the routing it had.
	s.save()
}

func (s *Supervisor) changed() {
	s.stale, s.lastShown = false, time.Now()
	s.o.OnChange()
}
