package console

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits are the login throttle's figures. Every attempt that reaches
// bcrypt is counted as a failure when it starts (so that concurrent
// attempts cannot slip past the count) and taken back if it succeeds.
type Limits struct {
	// Free is how many failures in a row a source may make without
	// waiting; after that it waits Base, then twice as long after each
	// failure, up to MaxWait. If 0, 5.
	Free int
	// Base is the first wait. If 0, 1 s.
	Base time.Duration
	// MaxWait caps a source's wait. If 0, 15 min.
	MaxWait time.Duration
	// Forget is how long after its last failure a source starts afresh.
	// If 0, 24 h.
	Forget time.Duration
	// Sources caps the table of sources; when it is full the one that
	// failed longest ago is dropped. If 0, 10,000 (about 1 MB).
	Sources int
	// Burst and Refill are the budget of all sources together: Burst
	// failures at once, then one more per Refill, so that many sources
	// cannot add up to more. If 0, 20 and 2 min.
	Burst  int
	Refill time.Duration
	// Hold is how long the answer to a refused attempt is held back (never
	// past its Retry-After), MaxHeld answers at most at once: a brute
	// force that waits for its answers, as scripts do, then guesses at the
	// pace of its connections rather than at the cost of the gateway's CPU
	// (a refused guess answered at once cost the proxy beside it 14 % of
	// its throughput at 500 guesses a second: docs/benchmarks.md §7). If 0,
	// 2 s and 256; a negative Hold holds nothing.
	Hold    time.Duration
	MaxHeld int
}

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.Free <= 0 {
		l.Free = 5
	}
	if l.Sources <= 0 {
		l.Sources = 10_000
	}
	if l.Burst <= 0 {
		l.Burst = 20
	}
	def(&l.Base, time.Second)
	def(&l.MaxWait, 15*time.Minute)
	def(&l.Forget, 24*time.Hour)
	def(&l.Refill, 2*time.Minute)
	if l.Hold == 0 {
		l.Hold = 2 * time.Second
	}
	if l.MaxHeld <= 0 {
		l.MaxHeld = 256
	}
	return l
}

// wait is how long a source waits after its nth failure in a row.
func (l Limits) wait(n int) time.Duration {
	if n < l.Free {
		return 0
	}
	shift := min(n-l.Free, 30)
	return min(l.Base<<shift, l.MaxWait)
}

// throttle decides which login attempts may reach bcrypt. Its methods take
// the time, so that tests can run a day of attempts in microseconds.
type throttle struct {
	lim Limits

	mu      sync.Mutex
	sources map[string]*source
	tokens  int       // the global budget left
	filled  time.Time // when tokens was last topped up
	refused int       // attempts refused since the last report
	report  time.Time // when refused was last reported
}

type source struct {
	failures int
	last     time.Time // the last failure
	next     time.Time // no attempt before
}

func newThrottle(lim Limits) *throttle {
	lim = lim.withDefaults()
	return &throttle{lim: lim, sources: map[string]*source{}, tokens: lim.Burst}
}

// admit reports whether an attempt from src may be checked now, and if not,
// how long until it may. An admitted attempt counts as a failure until
// succeeded or cancel says otherwise.
func (t *throttle) admit(src string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.topUp(now)
	s := t.sources[src]
	if s != nil && now.Sub(s.last) >= t.lim.Forget {
		delete(t.sources, src)
		s = nil
	}
	if s != nil && now.Before(s.next) {
		t.refused++
		return s.next.Sub(now), false
	}
	if t.tokens < 1 {
		t.refused++
		return t.filled.Add(t.lim.Refill).Sub(now), false
	}
	t.tokens--
	if s == nil {
		s = t.add(src, now)
	}
	s.failures++
	s.last = now
	s.next = now.Add(t.lim.wait(s.failures))
	return 0, true
}

// succeeded forgets src's failures and gives the attempt back to the
// global budget.
func (t *throttle) succeeded(src string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sources, src)
	t.giveBack()
}

// cancel takes back an admitted attempt that was not checked after all.
func (t *throttle) cancel(src string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sources[src]; s != nil && s.failures > 0 {
		s.failures--
		s.next = s.last.Add(t.lim.wait(s.failures))
	}
	t.giveBack()
}

func (t *throttle) giveBack() { t.tokens = min(t.tokens+1, t.lim.Burst) }

// topUp adds the tokens refilled since t.filled.
func (t *throttle) topUp(now time.Time) {
	if t.tokens >= t.lim.Burst {
		t.filled = now
		return
	}
	n := int(now.Sub(t.filled) / t.lim.Refill)
	if n <= 0 {
		return
	}
	t.tokens = min(t.tokens+n, t.lim.Burst)
	t.filled = t.filled.Add(time.Duration(n) * t.lim.Refill)
}

// add makes room for src when the table is full: first by dropping the
// sources forgotten already, then the one that failed longest ago. Only
// admitted attempts add sources, so the global budget bounds how often.
func (t *throttle) add(src string, now time.Time) *source {
	if len(t.sources) >= t.lim.Sources {
		var oldest string
		for k, s := range t.sources {
			if now.Sub(s.last) >= t.lim.Forget {
				delete(t.sources, k)
			} else if oldest == "" || s.last.Before(t.sources[oldest].last) {
				oldest = k
			}
		}
		if len(t.sources) >= t.lim.Sources {
			delete(t.sources, oldest)
		}
	}
	s := &source{}
	t.sources[src] = s
	return s
}

// refusals returns how many attempts were refused since it last returned
// a count, at most once a minute: what a log line says, instead of a line
// per refused attempt.
func (t *throttle) refusals(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refused == 0 || now.Sub(t.report) < time.Minute {
		return 0
	}
	n := t.refused
	t.refused, t.report = 0, now
	return n
}

// sourceOf is the key a request's attempts are counted under: its address,
// an IPv6 one as its /64 (what one subscriber gets), "local" for a unix
// socket.
func sourceOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "local"
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
