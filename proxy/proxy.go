package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// Options configure a Proxy. Zero values are replaced as documented.
type Options struct {
	// Hasher keys session ids and signs affinity cookies. Required.
	Hasher *Hasher
	// SessionCookie is the app's session cookie. If empty, "JSESSIONID".
	SessionCookie string
	// AffinityCookie is the gateway's own cookie. If empty, "GATEWAY_AFFINITY".
	AffinityCookie string
	// EndHeader is a response header by which the app ends its session; it
	// is stripped before the client sees it. If empty, "X-Gateway-End-Session".
	EndHeader string
	// LogoutPaths end the pin of the session that requests them, once the
	// app has answered below 400, and expire the session cookie in that
	// answer; they are matched on the path as the app sees it (appPath).
	LogoutPaths []LogoutPath
	// IdleTimeout ends pins not used for this long. If zero, 30 minutes.
	IdleTimeout time.Duration
	// SwitchPath is a path the proxy answers itself, never forwarding it:
	// it moves the requesting session to the active generation and
	// redirects back (see switchSession). If empty, there is none.
	SwitchPath string
	// TrustedProxies are the peers whose forwarding fields are believed
	// (forwarded.go); TrustUnixClients adds every client of a unix-socket
	// listener. Default: none.
	TrustedProxies   []netip.Prefix
	TrustUnixClients bool
	// Observer is told about every request answered, for metrics. If nil,
	// nothing is.
	Observer Observer
	// Logger receives the proxy's logs. If nil, slog.Default().
	Logger *slog.Logger
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
}

// Proxy routes requests to generations by session. It serves HTTP/1.1 on
// listeners with its own engine (see Run and engine.go).
type Proxy struct {
	o      Options
	log    *slog.Logger
	logout map[string]LogoutPath
	stats  *statsTable
	pins   *pinTable

	routes atomic.Pointer[fleet.Routes] // as last published
	mu     sync.Mutex                   // serialises compile
	cur    atomic.Pointer[table]

	scope atomic.Pointer[cookieScope] // of the app's session cookie, once seen

	// Signals for the parts built on the proxy, which listen rather than
	// being called: see SessionsChanged, RequestsDone and PinsQueued.
	sessions, requests, queued chan struct{}

	rejected atomic.Int64 // affinity cookies ignored
	switched atomic.Int64 // sessions moved by the switch path
	refused  atomic.Int64 // requests refused as malformed or ambiguous

	// clock is Options.Now when one was given (tests); nil means the
	// request path reuses the time it read when the request arrived.
	clock func() time.Time

	// started is when this proxy began (Unix seconds, the resolution of an
	// affinity cookie's issue time); see reaffine.
	started int64
}

// New checks o, fills in defaults, and returns a Proxy.
func New(o Options) (*Proxy, error) {
	if o.Hasher == nil {
		return nil, errors.New("proxy: Options.Hasher is required")
	}
	if o.SessionCookie == "" {
		o.SessionCookie = "JSESSIONID"
	}
	if o.AffinityCookie == "" {
		o.AffinityCookie = "GATEWAY_AFFINITY"
	}
	if o.EndHeader == "" {
		o.EndHeader = "X-Gateway-End-Session"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	clock := o.Now
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Proxy{o: o, log: o.Logger, logout: map[string]LogoutPath{}, stats: newStatsTable(), clock: clock, started: o.Now().Unix(),
		sessions: make(chan struct{}, 1), requests: make(chan struct{}, 1), queued: make(chan struct{}, 1)}
	p.pins = newPinTable(p.stats, min(o.IdleTimeout/10, time.Minute))
	for _, l := range o.LogoutPaths {
		if appPath([]byte(l.Path)) != l.Path {
			return nil, fmt.Errorf("proxy: Options.LogoutPaths: %q is not a path as the app sees it (%q)", l.Path, appPath([]byte(l.Path)))
		}
		p.logout[l.Path] = l
	}
	return p, nil
}

// SessionsChanged receives a signal (one may stand for several) when pins
// started or ended: the session counts shown changed, and a detached
// generation may have lost its last session. The supervisor listens.
func (p *Proxy) SessionsChanged() <-chan struct{} { return p.sessions }

// RequestsDone receives a signal when a request to a generation other than
// the active one ended: it may have been the last thing keeping that
// generation alive. The supervisor listens.
func (p *Proxy) RequestsDone() <-chan struct{} { return p.requests }

// PinsQueued receives a signal when pins started or ended, so that the pin
// store writes them at once rather than at its next tick.
func (p *Proxy) PinsQueued() <-chan struct{} { return p.queued }

// pinsChanged signals SessionsChanged and PinsQueued. It never blocks: a
// signal already pending stands for this one too.
func (p *Proxy) pinsChanged() {
	signal(p.sessions)
	signal(p.queued)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Publish replaces the generations that may receive requests (the
// supervisor's, through supervisor.Traffic). r must not change afterwards:
// requests compare it by pointer. Until the first Publish, every request
// is answered 503.
func (p *Proxy) Publish(r *fleet.Routes) { p.routes.Store(r) }

// table returns the compiled routes for the Routes last published. The
// common case is one atomic load and one pointer comparison.
func (p *Proxy) table() *table {
	src := p.routes.Load()
	if t := p.cur.Load(); t != nil && t.src == src {
		return t
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.cur.Load()
	if t == nil || t.src != src {
		t = p.compile(src, t)
		p.cur.Store(t)
	}
	return t
}

// session is what routing learned of a request's cookies, kept for the
// response: the session key is hashed once per request.
type session struct {
	key      fleet.SessionKey
	has      bool   // the request carried the session cookie
	affinity []byte // the affinity cookie's value, while routing
	fresh    bool   // the affinity cookie needs no reissue (see keep)
}

// route picks the backend of a request as docs/design.md "Routing and sessions"
// says: a pinned session goes to its pin, a valid affinity cookie pins it
// again, anything else goes to the active generation, or to the canary
// (its share of them, or all that ask for it with optIn). nil: none is
// ready. It is the routing core every front of the proxy shares.
func (p *Proxy) route(t *table, s *session, now time.Time, optIn bool) *backend {
	if !s.has {
		return t.pickNew(optIn)
	}
	if gen, inst, ok := p.pins.lookup(s.key, now); ok {
		if b := t.backend(gen, inst); b != nil {
			return b
		}
	}
	if len(s.affinity) > 0 {
		if b := p.reaffine(t, s.affinity, s.key, now); b != nil {
			return b
		}
	}
	return t.pickNew(optIn)
}

// reaffine follows a valid affinity cookie to a live generation and pins the
// session there again: how pins survive a gateway restart that lost them
// (a lost or refused pin store, the last moment before a crash).
//
// Only a cookie issued before this proxy started counts. One this proxy
// issued belonged to a pin it held; if that pin is gone, the session was
// ended (logout, deleted cookie, end header, idle expiry, an admin, a dead
// worker), and bringing it back would let an ended session, or a new login
// made with its cookies, land on an old generation again.
func (p *Proxy) reaffine(t *table, value []byte, key fleet.SessionKey, now time.Time) *backend {
	a, ok := p.o.Hasher.VerifyAffinity(value, key)
	age := now.Sub(a.Issued)
	if !ok || age > p.o.IdleTimeout || age < -time.Minute || a.Issued.Unix() > p.started || p.pins.isEnded(key, now) {
		p.rejected.Add(1)
		return nil
	}
	g := t.gens[a.Generation]
	if g == nil {
		p.rejected.Add(1)
		return nil
	}
	b := g.instance(a.Instance)
	if b == nil {
		b = g.pick()
	}
	if b != nil && p.pins.set(key, b.gen, b.inst, now) {
		p.log.Info("session pinned again from its affinity cookie", "session", key, "generation", b.gen, "instance", b.inst)
		p.pinsChanged()
	}
	return b
}
