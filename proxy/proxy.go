package proxy

import (
	"errors"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Proxy. Zero values are replaced as documented.
type Options struct {
	// Source tells which generations exist. Required.
	Source Source
	// Hasher keys session ids and signs affinity cookies. Required.
	Hasher *Hasher
	// SessionCookie is the app's session cookie. If empty, "JSESSIONID".
	SessionCookie string
	// AffinityCookie is the gateway's own cookie. If empty, "GATEWAY_AFFINITY".
	AffinityCookie string
	// EndHeader is a response header by which the app ends its session; it
	// is stripped before the client sees it. If empty, "X-Gateway-End-Session".
	EndHeader string
	// LogoutPaths end the pin of the session that requests them, after the
	// app has answered, and expire the session cookie in that answer.
	LogoutPaths []string
	// IdleTimeout ends pins not used for this long. If zero, 30 minutes.
	IdleTimeout time.Duration
	// SwitchPath is a path the proxy answers itself, never forwarding it:
	// it moves the requesting session to the active generation and
	// redirects back (see [Proxy.ServeHTTP]). If empty, there is none.
	SwitchPath string
	// Observer is told about every request answered, for metrics. If nil,
	// nothing is.
	Observer Observer
	// Notify is called (never blocking the caller for long) when pins are
	// created or removed, or when a generation other than the active one may
	// have become idle. If nil, nothing is called.
	Notify func()
	// Logger receives the proxy's logs. If nil, slog.Default().
	Logger *slog.Logger
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
}

// Proxy is an http.Handler that routes to generations by session.
type Proxy struct {
	o        Options
	log      *slog.Logger
	errorLog *log.Logger
	logout   map[string]bool
	stats    *statsTable
	pins     *pinTable

	mu  sync.Mutex // serialises compile
	cur atomic.Pointer[table]

	buffers bufferPool // response body copy buffers, shared by all backends

	rejected atomic.Int64 // affinity cookies ignored
	switched atomic.Int64 // sessions moved by the switch path
}

// New checks o, fills in defaults, and returns a Proxy.
func New(o Options) (*Proxy, error) {
	if o.Source == nil || o.Hasher == nil {
		return nil, errors.New("proxy: Options.Source and Options.Hasher are required")
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
	if o.Notify == nil {
		o.Notify = func() {}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Proxy{o: o, log: o.Logger, logout: map[string]bool{}, stats: newStatsTable()}
	p.errorLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
	p.pins = newPinTable(p.stats)
	for _, path := range o.LogoutPaths {
		p.logout[path] = true
	}
	return p, nil
}

// table returns the compiled routes for the Source's current Routes. The
// common case is one atomic load and one pointer comparison.
func (p *Proxy) table() *table {
	src := p.o.Source.Routes()
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

// ServeHTTP routes r as DESIGN.md "Routing and sessions" says. A request
// to Options.SwitchPath is answered by the proxy itself (see switchSession).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.o.SwitchPath != "" && r.URL.Path == p.o.SwitchPath {
		p.switchSession(w, r)
		return
	}
	var start time.Time
	if p.o.Observer != nil {
		start = time.Now()
	}
	t := p.table()
	b := p.route(t, r)
	if b == nil {
		w.Header().Set("Retry-After", "2")
		http.Error(w, "no generation of the app is ready yet", http.StatusServiceUnavailable)
		if p.o.Observer != nil {
			p.o.Observer.Request(0, http.StatusServiceUnavailable, time.Since(start))
		}
		return
	}
	p.serve(t, b, w, r, start)
}

func (p *Proxy) route(t *table, r *http.Request) *backend {
	sid := requestCookie(r.Header, p.o.SessionCookie)
	if sid == "" {
		return t.pickActive()
	}
	key := p.o.Hasher.Key(sid)
	now := p.o.Now()
	if pn := p.pins.get(key); pn != nil {
		if b := t.backend(pn.gen, pn.inst); b != nil {
			pn.lastSeen.Store(now.UnixNano())
			return b
		}
	}
	if v := requestCookie(r.Header, p.o.AffinityCookie); v != "" {
		if b := p.reaffine(t, v, key, now); b != nil {
			return b
		}
	}
	return t.pickActive()
}

// reaffine follows a valid affinity cookie to a live generation and pins the
// session there again: how pins survive a gateway restart or a lost state.
func (p *Proxy) reaffine(t *table, value string, key SessionKey, now time.Time) *backend {
	a, ok := p.o.Hasher.VerifyAffinity(value, key)
	age := now.Sub(a.Issued)
	if !ok || age > p.o.IdleTimeout || age < -time.Minute || p.pins.isEnded(key, now) {
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
		p.o.Notify()
	}
	return b
}

func (t *table) pickActive() *backend {
	if t.active == nil {
		return nil
	}
	return t.active.pick()
}

// serve forwards r to b. start is when the request arrived, or zero
// without an Observer.
func (p *Proxy) serve(t *table, b *backend, w http.ResponseWriter, r *http.Request, start time.Time) {
	ww := getWatchWriter(w, b, p.o.Observer, start)
	n := &b.stats.inFlight
	if isUpgrade(r.Header) {
		n = &b.stats.upgraded
	}
	n.Add(1)
	defer p.served(t, b, ww, n)
	b.rp.ServeHTTP(ww, r)
	ww.done = true
}

// served runs when a forwarded request is over, also when ReverseProxy
// aborted it with a panic (http.ErrAbortHandler: the client or the worker
// went away in the middle of the body), so that the counters that keep a
// generation alive always come back down.
func (p *Proxy) served(t *table, b *backend, ww *watchWriter, n *atomic.Int64) {
	if ww.conn != nil {
		b.stats.release(ww.conn)
	}
	n.Add(-1)
	ww.observe()
	if ww.done {
		putWatchWriter(ww)
	}
	if t.active == nil || t.active.id != b.gen {
		p.o.Notify()
	}
}

// isUpgrade matches what ReverseProxy treats as a protocol switch.
func isUpgrade(h http.Header) bool {
	if h.Get("Upgrade") == "" {
		return false
	}
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

func (p *Proxy) workerError(b *backend, w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nothing to answer and nothing wrong upstream.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	p.log.Warn("worker request failed", "generation", b.gen, "instance", b.inst,
		"method", r.Method, "path", r.URL.Path, "error", err)
	http.Error(w, "the app's worker failed to answer", http.StatusBadGateway)
}
