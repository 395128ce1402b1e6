package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
	"golang.org/x/crypto/bcrypt"
)

// fakeClock is the console's clock in these tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// guarded is a console with the password "s3cret" for user "ops", a fake
// clock, a count of the bcrypt checks it made, and its log.
type guarded struct {
	*Console
	clock   *fakeClock
	bcrypts atomic.Int64
	log     *gwtest.Buffer
	mu      sync.Mutex
	holds   []time.Duration // how long refused answers were held
}

func newGuarded(t *testing.T, o Options) *guarded {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	g := &guarded{clock: &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}, log: &gwtest.Buffer{}}
	o.App, o.Version, o.User, o.PasswordHash = "notes", "1.4.0", "ops", string(hash)
	o.Logger = slog.New(slog.NewTextHandler(g.log, nil))
	c, err := New(newCore(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.now = g.clock.now
	c.compare = func(hash, pass []byte) error {
		g.bcrypts.Add(1)
		return bcrypt.CompareHashAndPassword(hash, pass)
	}
	c.after = func(_ time.Duration, f func()) { f() }    // no rest: the clock stands still during checks here
	c.sleep = func(_ context.Context, d time.Duration) { // recorded, not slept
		g.mu.Lock()
		g.holds = append(g.holds, d)
		g.mu.Unlock()
	}
	g.Console = c
	return g
}

// formToken is a CSRF nonce cookie and its token, from the login page.
func (g *guarded) formToken(t *testing.T) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	m := tokenRE.FindStringSubmatch(rec.Body.String())
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusOK || m == nil || len(cookies) != 1 {
		t.Fatalf("GET /login: status %d, cookies %v, body %q; want 200, a nonce and a form with a token", rec.Code, cookies, rec.Body)
	}
	return cookies[0], m[1]
}

// attempt posts the login form from addr straight to the handler (no
// network: the source can be any address).
func (g *guarded) attempt(nonce *http.Cookie, token, addr, user, pass string) *httptest.ResponseRecorder {
	form := url.Values{"csrf": {token}, "user": {user}, "password": {pass}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(nonce)
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	return rec
}

// impatient is a right login whose wait for the check's slot ends at once.
func (g *guarded) impatient(nonce *http.Cookie, token string) *httptest.ResponseRecorder {
	form := url.Values{"csrf": {token}, "user": {"ops"}, "password": {"s3cret"}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(nonce)
	req.RemoteAddr = "192.0.2.1:5000"
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	return rec
}

// signIn logs b in through the form.
func (b *browser) signIn(user, pass string) *http.Response {
	b.t.Helper()
	m := tokenRE.FindStringSubmatch(b.get("/login"))
	if m == nil {
		b.t.Fatal("no csrf field in the login page")
	}
	resp, _ := b.do("POST", "/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {pass}})
	return resp
}

func TestLoginForm(t *testing.T) {
	g := newGuarded(t, Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "gateway_up 1\n")
	})})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	anon := newBrowser(t, srv.URL)
	if resp, _ := anon.do("GET", "/", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "login" {
		t.Errorf("GET / signed out: status %d, Location %q; want 303 to login", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, path := range []string{"/live", "/api/status", "/metrics"} {
		if resp, _ := anon.do("GET", path, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s signed out: status %d, want 401", path, resp.StatusCode)
		}
	}
	anon.get("/static/console.css") // the login page's stylesheet

	for _, tt := range []struct{ name, user, pass string }{
		{"wrong password", "ops", "secret"}, {"wrong user", "admin", "s3cret"}, {"empty password", "ops", ""},
	} {
		resp := newBrowser(t, srv.URL).signIn(tt.user, tt.pass)
		if resp.StatusCode != http.StatusUnauthorized || gwtest.SetCookie(resp, "gateway-admin-session-notes") != "" {
			t.Errorf("%s: status %d, Set-Cookie %q; want 401 and no session", tt.name, resp.StatusCode, resp.Header.Values("Set-Cookie"))
		}
	}

	b := newBrowser(t, srv.URL)
	resp := b.signIn("ops", "s3cret")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "./" {
		t.Fatalf("right password: status %d, Location %q; want 303 to ./", resp.StatusCode, resp.Header.Get("Location"))
	}
	line := gwtest.SetCookie(resp, "gateway-admin-session-notes")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(line, want) {
			t.Errorf("session cookie %q: no %s", line, want)
		}
	}
	if strings.Contains(line, "Secure") || strings.Contains(line, "Max-Age") {
		t.Errorf("session cookie %q: want neither Secure (plain HTTP) nor Max-Age (the server expires it)", line)
	}
	for _, path := range []string{"/", "/live", "/api/status", "/metrics"} {
		b.get(path)
	}
	if body := b.get("/"); !strings.Contains(body, `action="logout"`) {
		t.Error("the page has no Sign out form")
	}
	if resp, _ := b.do("GET", "/login", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /login signed in: status %d, want 303 to the console", resp.StatusCode)
	}
	if n := g.bcrypts.Load(); n != 4 {
		t.Errorf("bcrypt checks: got %d, want 4 (one per login, none per request)", n)
	}

	// Sign out ends the session on the server: the old cookie is no good.
	u, _ := url.Parse(srv.URL)
	old := b.client.Jar.Cookies(u)
	resp, _ = b.do("POST", "/logout", url.Values{"csrf": {b.token()}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "login" {
		t.Errorf("logout: status %d, Location %q; want 303 to login", resp.StatusCode, resp.Header.Get("Location"))
	}
	replay := newBrowser(t, srv.URL)
	replay.client.Jar.SetCookies(u, old)
	if resp, _ := replay.do("GET", "/live", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the session's cookie after logout: status %d, want 401", resp.StatusCode)
	}
}

// A login is a form like the others: without the page's token (login CSRF)
// or from another origin it is refused before any password is checked.
func TestLoginNeedsCSRFToken(t *testing.T) {
	g := newGuarded(t, Options{})
	nonce, token := g.formToken(t)
	if rec := g.attempt(nonce, "", "192.0.2.1:5000", "ops", "s3cret"); rec.Code != http.StatusForbidden {
		t.Errorf("no token: status %d, want 403", rec.Code)
	}
	if rec := g.attempt(&http.Cookie{Name: nonce.Name, Value: "AAAAAAAAAAAAAAAAAAAAAAAA"}, token, "192.0.2.1:5000", "ops", "s3cret"); rec.Code != http.StatusForbidden {
		t.Errorf("another nonce: status %d, want 403", rec.Code)
	}
	form := url.Values{"csrf": {token}, "user": {"ops"}, "password": {"s3cret"}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(nonce)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-origin: status %d, want 403", rec.Code)
	}
	if n := g.bcrypts.Load(); n != 0 {
		t.Errorf("bcrypt checks: got %d, want 0", n)
	}
	if rec := g.attempt(nonce, token, "192.0.2.1:5000", "ops", "s3cret"); rec.Code != http.StatusSeeOther {
		t.Errorf("with the token: status %d, want 303", rec.Code)
	}
}

func TestSessionCookieSecureOverTLS(t *testing.T) {
	g := newGuarded(t, Options{})
	srv := httptest.NewTLSServer(g)
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL)
	b.client.Transport = srv.Client().Transport
	resp := b.signIn("ops", "s3cret")
	if line := gwtest.SetCookie(resp, "gateway-admin-session-notes"); !strings.Contains(line, "; Secure") {
		t.Errorf("session cookie over TLS: %q, want Secure", line)
	}
}

// Sessions end after sessionIdle without a request, and after sessionLife
// whatever the requests.
func TestSessionExpiry(t *testing.T) {
	g := newGuarded(t, Options{})
	nonce, token := g.formToken(t)
	live := func(id string) int {
		req := httptest.NewRequest("GET", "/live", nil)
		req.AddCookie(&http.Cookie{Name: "gateway-admin-session-notes", Value: id})
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec.Code
	}
	signIn := func() string {
		rec := g.attempt(nonce, token, "192.0.2.1:5000", "ops", "s3cret")
		for _, c := range rec.Result().Cookies() {
			if c.Name == "gateway-admin-session-notes" {
				return c.Value
			}
		}
		t.Fatalf("no session cookie: status %d", rec.Code)
		return ""
	}
	idle := signIn()
	g.clock.add(sessionIdle - time.Second)
	if got := live(idle); got != http.StatusOK {
		t.Fatalf("just before the idle expiry: status %d, want 200", got)
	}
	g.clock.add(sessionIdle - time.Second) // idle again, counted from the last request
	if got := live(idle); got != http.StatusOK {
		t.Fatalf("a request renews the idle expiry: status %d, want 200", got)
	}
	g.clock.add(sessionIdle)
	if got := live(idle); got != http.StatusUnauthorized {
		t.Errorf("idle for %s: status %d, want 401", sessionIdle, got)
	}

	busy := signIn()
	for range int(sessionLife / (sessionIdle / 2)) {
		if got := live(busy); got != http.StatusOK {
			t.Fatalf("at %s: status %d, want 200", g.clock.now().Format(time.Kitchen), got)
		}
		g.clock.add(sessionIdle / 2)
	}
	if got := live(busy); got != http.StatusUnauthorized {
		t.Errorf("after %s, in use all along: status %d, want 401", sessionLife, got)
	}
}

func TestSessionsBounded(t *testing.T) {
	s := newSessions()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	first, _ := s.start("ops", now)
	var last string
	for i := range maxSessions * 2 {
		last, _ = s.start("ops", now.Add(time.Duration(i+1)*time.Second))
	}
	if len(s.m) != maxSessions {
		t.Errorf("sessions: got %d, want at most %d", len(s.m), maxSessions)
	}
	if s.valid(first, now.Add(time.Hour)) || !s.valid(last, now.Add(3*time.Minute)) {
		t.Error("want the session seen longest ago evicted, the newest kept")
	}
}

// /metrics alone takes basic auth, through the same throttle; credentials
// that passed are not checked with bcrypt again.
func TestMetricsBasicAuth(t *testing.T) {
	g := newGuarded(t, Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "gateway_up 1\n")
	})})
	get := func(path, user, pass string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.SetBasicAuth(user, pass)
		req.RemoteAddr = "192.0.2.9:9100"
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec
	}
	for range 3 {
		if rec := get("/metrics", "ops", "s3cret"); rec.Code != http.StatusOK || rec.Body.String() != "gateway_up 1\n" {
			t.Fatalf("GET /metrics: status %d, body %q; want the metrics", rec.Code, rec.Body)
		}
	}
	if n := g.bcrypts.Load(); n != 1 {
		t.Errorf("bcrypt checks for 3 scrapes: got %d, want 1", n)
	}
	if rec := get("/api/status", "ops", "s3cret"); rec.Code != http.StatusUnauthorized {
		t.Errorf("basic auth on /api/status: status %d, want 401 (basic auth is for /metrics only)", rec.Code)
	}
	rec := get("/metrics", "ops", "wrong")
	if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `Basic realm="gateway metrics: notes"`) {
		t.Errorf("wrong password: status %d, WWW-Authenticate %q; want 401 and a Basic realm", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	for range 10 {
		rec = get("/metrics", "ops", "wrong")
	}
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("after 11 wrong passwords: status %d, Retry-After %q; want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// No check free in time: 503, no bcrypt, and the attempt is not counted.
func TestLoginBusy(t *testing.T) {
	g := newGuarded(t, Options{})
	nonce, token := g.formToken(t)
	for range cap(g.Console.checks) {
		g.Console.checks <- struct{}{} // every check taken
	}
	rec := g.impatient(nonce, token)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("status %d, Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	if n := g.bcrypts.Load(); n != 0 {
		t.Errorf("bcrypt checks: got %d, want 0", n)
	}
	if g.throttle.tokens != g.throttle.lim.Burst || len(g.throttle.sources) != 1 || g.throttle.sources["192.0.2.1"].failures != 0 {
		t.Errorf("throttle after a busy refusal: %d tokens, sources %v; want the attempt given back", g.throttle.tokens, g.throttle.sources)
	}
}

// The check's slot rests 19 times as long as the check took, at most 1 s:
// bcrypt takes a twentieth of a core at cost 10, and attempts meanwhile
// wait, then get 503. A slow check (a high cost, a slow machine) rests 1 s.
func TestBcryptRests(t *testing.T) {
	g := newGuarded(t, Options{})
	took := 40 * time.Millisecond // what cost 10 takes on a slow core
	g.compare = func(hash, pass []byte) error {
		g.clock.add(took)
		return bcrypt.CompareHashAndPassword(hash, pass)
	}
	var rest time.Duration
	var release func()
	g.after = func(d time.Duration, f func()) { rest, release = d, f }
	nonce, token := g.formToken(t)
	if rec := g.attempt(nonce, token, "192.0.2.1:5000", "ops", "wrong"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("first attempt: status %d, want 401", rec.Code)
	}
	if rest != 19*40*time.Millisecond {
		t.Errorf("rest: got %s, want 19 × 40ms", rest)
	}
	if rec := g.impatient(nonce, token); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("while the slot rests: status %d, want 503", rec.Code)
	}
	release()
	took = 500 * time.Millisecond
	g.attempt(nonce, token, "192.0.2.1:5000", "ops", "wrong")
	if rest != time.Second {
		t.Errorf("rest after a 500ms check: got %s, want the cap, 1s", rest)
	}
	release()
	if rec := g.attempt(nonce, token, "192.0.2.1:5000", "ops", "s3cret"); rec.Code != http.StatusSeeOther {
		t.Errorf("after the rest: status %d, want 303", rec.Code)
	}
}

// Failed logins are logged with their source and user, never the password.
func TestFailedLoginLogged(t *testing.T) {
	g := newGuarded(t, Options{})
	nonce, token := g.formToken(t)
	g.attempt(nonce, token, "198.51.100.23:41000", "root", "hunter2-guess")
	for range 100 {
		g.attempt(nonce, token, "198.51.100.23:41000", "root", "hunter2-guess")
	}
	g.clock.add(time.Minute)
	g.attempt(nonce, token, "198.51.100.23:41000", "root", "hunter2-guess") // admitted: the wait is over
	g.attempt(nonce, token, "198.51.100.23:41000", "root", "hunter2-guess") // refused: the report is a minute old
	log := g.log.String()
	if !strings.Contains(log, `msg="admin console: login failed" source=198.51.100.23 user=root`) {
		t.Errorf("no failed login with source and user in the log:\n%s", log)
	}
	if strings.Contains(log, "hunter2") {
		t.Errorf("the password is in the log:\n%s", log)
	}
	// The first refusal is said at once, the next ones at most once a
	// minute: 96 refused at first, then 96 more with the one a minute later.
	if got := strings.Count(log, "refused by the throttle"); got != 2 || !strings.Contains(log, "refused=1 ") || !strings.Contains(log, "refused=96 ") {
		t.Errorf("refusal lines: got %d, want 2 saying refused=1 and refused=96:\n%s", got, log)
	}
}

// A brute force at the fastest pace the console allows: each refused
// attempt is retried exactly when Retry-After says. 1,000 guesses take
// more than a day, from one source and from a new source for every guess
// (the global budget), and only the guesses reach bcrypt.
func TestBruteForceTakesOverADay(t *testing.T) {
	for _, tt := range []struct {
		name string
		addr func(i int) string
	}{
		{"one source", func(int) string { return "203.0.113.7:40000" }},
		{"a source per guess", func(i int) string { return fmt.Sprintf("10.%d.%d.%d:40000", i>>16&255, i>>8&255, i&255) }},
		{"an IPv6 /64 per guess", func(i int) string { return fmt.Sprintf("[2001:db8:%x::1]:40000", i) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuarded(t, Options{})
			nonce, token := g.formToken(t)
			start := g.clock.now()
			guesses, refused := 0, 0
			for guesses < 1000 {
				rec := g.attempt(nonce, token, tt.addr(guesses), "ops", "guess"+strconv.Itoa(guesses))
				switch rec.Code {
				case http.StatusUnauthorized:
					guesses++
				case http.StatusTooManyRequests:
					refused++
					secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
					if err != nil || secs < 1 {
						t.Fatalf("429 with Retry-After %q, want seconds", rec.Header().Get("Retry-After"))
					}
					g.clock.add(time.Duration(secs) * time.Second)
				default:
					t.Fatalf("guess %d: status %d", guesses, rec.Code)
				}
			}
			took := g.clock.now().Sub(start)
			t.Logf("1,000 guesses took %s (%.1f days), %d attempts refused", took, took.Hours()/24, refused)
			if took <= 24*time.Hour {
				t.Errorf("1,000 guesses took %s, want more than a day", took)
			}
			if n := g.bcrypts.Load(); n != 1000 {
				t.Errorf("bcrypt checks: got %d, want 1000 (the guesses only: no refused attempt)", n)
			}
		})
	}
}

// Attempts the throttle refuses never reach bcrypt: a burst of 1,000
// without waiting gets Limits.Free checks from one source, Limits.Burst
// from a thousand.
func TestThrottledNeverReachBcrypt(t *testing.T) {
	lim := Limits{}.withDefaults()
	for _, tt := range []struct {
		name string
		addr func(i int) string
		want int
	}{
		{"one source", func(int) string { return "203.0.113.7:40000" }, lim.Free},
		{"1,000 sources", func(i int) string { return fmt.Sprintf("10.0.%d.%d:40000", i>>8, i&255) }, lim.Burst},
	} {
		g := newGuarded(t, Options{})
		nonce, token := g.formToken(t)
		codes := map[int]int{}
		for i := range 1000 {
			codes[g.attempt(nonce, token, tt.addr(i), "ops", "guess").Code]++
		}
		if n := g.bcrypts.Load(); n != int64(tt.want) || codes[http.StatusUnauthorized] != tt.want || codes[http.StatusTooManyRequests] != 1000-tt.want {
			t.Errorf("%s: %d bcrypt checks, answers %v; want %d checks, %d × 401, the rest 429", tt.name, n, codes, tt.want, tt.want)
		}
	}
}

// A refused attempt's answer is held back (Limits.Hold, never past its
// Retry-After), and only Limits.MaxHeld at once: beyond, answers go at
// once rather than pile up.
func TestRefusedAnswersAreHeld(t *testing.T) {
	g := newGuarded(t, Options{Limits: Limits{Free: 1, Base: time.Second, MaxHeld: 2}})
	nonce, token := g.formToken(t)
	const src = "203.0.113.7:40000"
	g.attempt(nonce, token, src, "ops", "guess") // the free failure
	if rec := g.attempt(nonce, token, src, "ops", "guess"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("second guess: %d, Retry-After %q; want 429 after 1s", rec.Code, rec.Header().Get("Retry-After"))
	}
	g.clock.add(time.Second)
	g.attempt(nonce, token, src, "ops", "guess") // admitted; the wait doubles to 2s, then 4s
	g.clock.add(2 * time.Second)
	g.attempt(nonce, token, src, "ops", "guess")
	g.attempt(nonce, token, src, "ops", "guess") // refused, Retry-After 4s: held 2s
	g.mu.Lock()
	holds := slices.Clone(g.holds)
	g.mu.Unlock()
	if !slices.Equal(holds, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("held %v, want [1s 2s] (Retry-After, capped at Limits.Hold)", holds)
	}

	release := make(chan struct{})
	g.sleep = func(ctx context.Context, d time.Duration) { <-release }
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); g.attempt(nonce, token, src, "ops", "guess") }()
	}
	if !gwtest.Poll(5*time.Second, func() bool { return len(g.held) == 2 }) {
		t.Fatalf("%d answers held, want 2", len(g.held))
	}
	if rec := g.attempt(nonce, token, src, "ops", "guess"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("with MaxHeld answers held, the next refusal: %d, want 429 at once", rec.Code)
	}
	close(release)
	wg.Wait()
}
