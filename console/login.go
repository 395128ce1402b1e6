package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The login: a form that starts a server-side session, held in a cookie.
// bcrypt runs once per login, at most maxChecks at a time, and only for
// attempts the throttle admits; /metrics alone also takes basic auth, for
// Prometheus, through the same throttle.

// bcrypt takes a core for tens of milliseconds, and the proxy needs the
// cores more: one check runs at a time, and its slot rests restFactor
// times as long as the check took before the next, so that logins take at
// most a twentieth of one core however many arrive (a throttle's burst of
// 20 at cost 10: a twentieth of a core for a minute, not a core for a
// second). The rest is capped at maxRest, so that an admin who mistyped
// does not wait for it after a slow check (a high cost, a slow machine);
// the throttle's budget bounds how many such checks there are.
const (
	maxChecks  = 1
	restFactor = 19
	maxRest    = time.Second
	// checkWait is how long an attempt waits for the slot before 503:
	// longer than one rest and a check at cost 12.
	checkWait = 5 * time.Second
)

type outcome int

const (
	loginOK        outcome = iota
	loginFailed            // wrong user or password
	loginThrottled         // refused before bcrypt: 429
	loginBusy              // no check free in time: 503
)

// authenticate checks user and pass for a request from src. retry is set
// for loginThrottled.
func (c *Console) authenticate(ctx context.Context, src, user, pass string) (o outcome, retry time.Duration) {
	if retry, ok := c.throttle.admit(src, c.now()); !ok {
		if n := c.throttle.refusals(c.now()); n > 0 {
			c.log.Warn("admin console: login attempts refused by the throttle", "refused", n, "last_source", src)
		}
		return loginThrottled, retry
	}
	wait, cancel := context.WithTimeout(ctx, checkWait)
	defer cancel()
	select {
	case c.checks <- struct{}{}:
	case <-wait.Done():
		c.throttle.cancel(src)
		return loginBusy, time.Second
	}
	start := c.now()
	u := sha256.Sum256([]byte(user))
	userOK := subtle.ConstantTimeCompare(u[:], c.user[:]) == 1
	// The password is checked whatever the user, so that both take as long.
	passOK := c.compare([]byte(c.o.PasswordHash), []byte(pass)) == nil
	c.after(min(restFactor*c.now().Sub(start), maxRest), func() { <-c.checks })
	if !userOK || !passOK {
		c.log.Warn("admin console: login failed", "source", src, "user", truncate(user, 64))
		return loginFailed, 0
	}
	c.throttle.succeeded(src)
	return loginOK, 0
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// gate lets a request through if it may be served: the login form and
// the static assets to anyone, /metrics with basic auth, everything with
// a session.
func (c *Console) gate(next http.Handler) http.Handler {
	if c.o.PasswordHash == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/login" || strings.HasPrefix(r.URL.Path, "/static/"):
		case c.signedIn(r):
		case r.URL.Path == "/metrics":
			if !c.basic(w, r) {
				return
			}
		case r.Method == http.MethodGet && r.URL.Path == "/":
			w.Header().Set("Location", "login")
			w.WriteHeader(http.StatusSeeOther)
			return
		default:
			http.Error(w, "401 login required: sign in on the console's login page (/login)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *Console) signedIn(r *http.Request) bool {
	ck, err := r.Cookie(c.sessionCookie)
	return err == nil && c.sessions.valid(ck.Value, c.now())
}

// basic checks /metrics' basic auth. A scraper asks every few seconds, so
// credentials that passed are remembered by their HMAC under the process's
// key (never in clear), a handful at most, and not checked again.
func (c *Console) basic(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if ok && c.scrapers.known(user, pass) {
		return true
	}
	o := loginFailed
	var retry time.Duration
	if ok {
		o, retry = c.authenticate(r.Context(), sourceOf(r.RemoteAddr), user, pass)
	}
	switch o {
	case loginOK:
		c.scrapers.remember(user, pass)
		return true
	case loginFailed:
		w.Header().Set("WWW-Authenticate", `Basic realm="gateway metrics: `+strings.ReplaceAll(c.o.App, `"`, "")+`", charset="UTF-8"`)
		http.Error(w, "401 login required: the user and password of the gateway's [admin] section", http.StatusUnauthorized)
	default:
		c.refuse(w, r, o, retry)
	}
	return false
}

// refuse answers a throttled or busy attempt; a throttled one after the
// hold (Limits.Hold).
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, o outcome, retry time.Duration) {
	if o == loginThrottled {
		c.hold(r.Context(), min(retry, c.lim.Hold))
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	if o == loginBusy {
		http.Error(w, "503 the console is checking other logins: try again in a second", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "429 too many failed logins: try again in "+retry.Round(time.Second).String(), http.StatusTooManyRequests)
}

// scrapers remembers basic-auth credentials that passed.
type scrapers struct {
	key  []byte
	mu   sync.Mutex
	good map[[sha256.Size]byte]bool
}

const maxScrapers = 16

func (s *scrapers) id(user, pass string) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("login\x00" + user + "\x00" + pass))
	var id [sha256.Size]byte
	copy(id[:], m.Sum(nil))
	return id
}

func (s *scrapers) known(user, pass string) bool {
	id := s.id(user, pass)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.good[id]
}

func (s *scrapers) remember(user, pass string) {
	id := s.id(user, pass)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.good) >= maxScrapers {
		clear(s.good)
	}
	s.good[id] = true
}

// hold waits d, or until the client goes, if fewer than Limits.MaxHeld
// answers are held already; else it returns at once.
func (c *Console) hold(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case c.held <- struct{}{}:
	default:
		return
	}
	defer func() { <-c.held }()
	c.sleep(ctx, d)
}

// sleepCtx is Console.sleep outside tests.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
