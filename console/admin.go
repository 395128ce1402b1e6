package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatewayd/gateway/fleet"
)

// Options configure a Console.
type Options struct {
	// App and Version name the gateway on the page and in the status.
	App, Version string
	// User is the login name asked for when PasswordHash is set. If "",
	// "admin".
	User string
	// PasswordHash is a bcrypt hash of the password. If "", the console
	// asks for no login, which New allows only when Local is set.
	PasswordHash string
	// Local says the console's listener can be reached only from this
	// machine: a unix socket or a loopback address.
	Local bool
	// Metrics, if non-nil, is served at /metrics, behind the same login;
	// there HTTP basic auth is taken too, for Prometheus.
	Metrics http.Handler
	// Limits are the login throttle's; zero fields take their defaults.
	Limits Limits
	// SampleInterval is how often Run samples the session counts for the
	// sparklines, which cover the last hour. If 0, 10 s.
	SampleInterval time.Duration
	// Logger receives a line per action taken. If nil, slog.Default().
	Logger *slog.Logger
}

// ErrNeedsPassword is New's answer for a console that other machines can
// reach and that has no password.
var ErrNeedsPassword = errors.New("the admin console is reachable from other machines and has no password: set admin.password_hash (a bcrypt hash), or serve it on loopback or a unix socket")

// window is how far back the sparklines go.
const window = time.Hour

// Console is the admin console: an http.Handler, plus Run for the samples
// of its sparklines.
type Console struct {
	core    fleet.Core
	o       Options
	log     *slog.Logger
	key     []byte // drawn at start: CSRF tokens, flash signatures, remembered scrapers
	handler http.Handler
	hist    *history
	now     func() time.Time

	user     [sha256.Size]byte // of Options.User: compared in constant time whatever its length
	throttle *throttle
	checks   chan struct{} // a token per bcrypt check running or resting
	compare  func(hash, password []byte) error
	after    func(time.Duration, func())          // time.AfterFunc
	sleep    func(context.Context, time.Duration) // sleepCtx
	lim      Limits
	held     chan struct{} // answers held back: at most Limits.MaxHeld
	sessions *sessions
	scrapers *scrapers

	cookie, flashCookie, sessionCookie string
}

//go:embed assets
var assets embed.FS

var pages = template.Must(template.ParseFS(assets, "assets/*.html"))

// New returns the console of core. It refuses a console that is not Local
// and has no PasswordHash (ErrNeedsPassword), and a PasswordHash that is
// not a bcrypt hash.
func New(core fleet.Core, o Options) (*Console, error) {
	if o.PasswordHash == "" && !o.Local {
		return nil, ErrNeedsPassword
	}
	if o.PasswordHash != "" {
		if _, err := bcrypt.Cost([]byte(o.PasswordHash)); err != nil {
			return nil, fmt.Errorf("admin.password_hash: not a bcrypt hash: %w", err)
		}
	}
	if o.User == "" {
		o.User = "admin"
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("drawing the console's key: %w", err)
	}
	c := &Console{core: core, o: o, log: o.Logger, key: key,
		hist: newHistory(window), now: time.Now,
		user: sha256.Sum256([]byte(o.User)), throttle: newThrottle(o.Limits), checks: make(chan struct{}, maxChecks),
		compare: bcrypt.CompareHashAndPassword, after: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		sleep: sleepCtx, lim: o.Limits.withDefaults(), held: make(chan struct{}, o.Limits.withDefaults().MaxHeld),
		sessions: newSessions(),
		scrapers: &scrapers{key: key, good: map[[sha256.Size]byte]bool{}},
		cookie:   cookieName("gateway-admin-", o.App), flashCookie: cookieName("gateway-admin-flash-", o.App),
		sessionCookie: cookieName("gateway-admin-session-", o.App)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.page)
	mux.HandleFunc("GET /live", c.live)
	mux.HandleFunc("GET /api/status", c.status)
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(c.forbidden))
	for path, do := range map[string]func(context.Context, url.Values) (string, error){
		"/upgrade": c.upgrade, "/detach": c.detach, "/retire": c.retire, "/end-session": c.endSession, "/rollback": c.rollback,
		"/canary": c.canary, "/promote": c.promote, "/abort": c.abort,
	} {
		mux.Handle("POST "+path, cop.Handler(c.action(do)))
	}
	if o.PasswordHash != "" {
		mux.HandleFunc("GET /login", c.loginPage)
		mux.Handle("POST /login", cop.Handler(http.HandlerFunc(c.login)))
		mux.Handle("POST /logout", cop.Handler(http.HandlerFunc(c.logout)))
	}
	c.handler = secure(c.gate(mux))
	return c, nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// Run samples the session counts every Options.SampleInterval until ctx
// is done.
func (c *Console) Run(ctx context.Context) error {
	t := time.NewTicker(c.o.SampleInterval)
	defer t.Stop()
	for {
		c.sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *Console) sample(ctx context.Context) {
	gens, err := c.core.Generations(ctx)
	if err != nil {
		c.log.Debug("sampling the generations", "error", err)
		return
	}
	c.hist.observe(c.now(), gens)
}

// read takes one snapshot of the gateway for a page; the page is also a
// sample.
func (c *Console) read(ctx context.Context, token string) liveView {
	now := c.now()
	gens, err := c.core.Generations(ctx)
	if err != nil {
		return liveView{Token: token, Now: atTime(now, now), Err: "listing the generations: " + err.Error(), Refresh: 10}
	}
	c.hist.observe(now, gens)
	sessions, err := c.core.RecentSessions(ctx, maxListed)
	lv := newLive(now, gens, sessions, c.hist.snapshot(), token)
	if err != nil {
		lv.Err = "listing the sessions: " + err.Error()
	}
	if ps, err := c.core.PinStore(ctx); err == nil && ps.Error != "" {
		lv.PinStoreErr = fmt.Sprintf("Writing the pins to %s fails (%d failed writes so far): %s. A restart of the gateway now would lose the sessions changed since its last write.",
			ps.Path, ps.WriteFailures, ps.Error)
	}
	return lv
}

func (c *Console) page(w http.ResponseWriter, r *http.Request) {
	v := pageView{App: c.o.App, Version: c.o.Version, Metrics: c.o.Metrics != nil, Login: c.o.PasswordHash != "",
		Flash: c.takeFlash(w, r), Live: c.read(r.Context(), c.token(c.nonce(w, r))), Listeners: c.listeners(r.Context(), c.now())}
	c.render(w, "page", v)
}

func (c *Console) live(w http.ResponseWriter, r *http.Request) {
	c.render(w, "live", c.read(r.Context(), c.token(c.nonce(w, r))))
}

func (c *Console) render(w http.ResponseWriter, name string, v any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name, v); err != nil {
		c.log.Error("rendering the admin console", "template", name, "error", err)
	}
}

// status is /api/status: exactly `gatewayctl status --json`.
func (c *Console) status(w http.ResponseWriter, r *http.Request) {
	gens, err := c.core.Generations(r.Context())
	if err != nil {
		http.Error(w, "listing the generations: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	ps, _ := c.core.PinStore(r.Context()) // not reported if it fails
	st := fleet.NewStatus(c.o.App, c.o.Version, gens, ps)
	st.Listeners, _ = c.core.Listeners(r.Context())
	enc.Encode(st)
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	pages.ExecuteTemplate(w, "forbidden", nil)
}

// errBadForm is a form the console's page does not send.
var errBadForm = errors.New("bad form")

// action runs one POST: the CSRF check, then do, whose message (or error)
// the page shows after the redirect.
func (c *Console) action(do func(ctx context.Context, f url.Values) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.form(w, r) {
			return
		}
		msg, err := do(r.Context(), r.PostForm)
		switch {
		case errors.Is(err, errBadForm):
			http.Error(w, "400 "+err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			c.log.Warn("admin console: action failed", "action", strings.TrimPrefix(r.URL.Path, "/"), "error", err)
			c.setFlash(w, r, flash{Msg: err.Error()})
		default:
			c.log.Info("admin console: action done", "action", strings.TrimPrefix(r.URL.Path, "/"), "outcome", msg)
			c.setFlash(w, r, flash{OK: true, Msg: msg})
		}
		seeOther(w, "./")
	})
}

func generation(f url.Values) (int, error) {
	n, err := strconv.ParseUint(f.Get("generation"), 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: generation %q is not a generation number", errBadForm, f.Get("generation"))
	}
	return int(n), nil
}

func (c *Console) upgrade(ctx context.Context, _ url.Values) (string, error) {
	gen, err := c.core.Upgrade(ctx)
	if err != nil {
		return "", fmt.Errorf("upgrade failed: %w (the active generation keeps serving)", err)
	}
	return "upgrade done: " + c.activeLine(ctx, gen), nil
}

func (c *Console) detach(ctx context.Context, f url.Values) (string, error) {
	gen, err := generation(f)
	if err != nil {
		return "", err
	}
	next, err := c.core.Detach(ctx, gen)
	if err != nil {
		return "", fmt.Errorf("detaching generation %d: %w", gen, err)
	}
	return fmt.Sprintf("generation %d detached; %s", gen, c.activeLine(ctx, next)), nil
}

func (c *Console) canary(ctx context.Context, f url.Values) (string, error) {
	pct, err := strconv.ParseFloat(f.Get("percent"), 64)
	if err != nil || pct <= 0 || pct > 100 {
		return "", fmt.Errorf("%w: percent %q is not a share above 0 and at most 100", errBadForm, f.Get("percent"))
	}
	gen, err := c.core.UpgradeCanary(ctx, pct/100)
	if err != nil {
		return "", fmt.Errorf("canary upgrade failed: %w (the active generation keeps serving)", err)
	}
	return fmt.Sprintf("generation %d is the canary: %g%% of new sessions go to it", gen, pct), nil
}

func (c *Console) promote(ctx context.Context, _ url.Values) (string, error) {
	gen, err := c.core.Promote(ctx)
	if err != nil {
		return "", fmt.Errorf("promote failed: %w", err)
	}
	return "promoted: " + c.activeLine(ctx, gen), nil
}

func (c *Console) abort(ctx context.Context, f url.Values) (string, error) {
	move := f.Get("move_sessions") == "true"
	gen, err := c.core.Abort(ctx, move)
	if err != nil {
		return "", fmt.Errorf("abort failed: %w", err)
	}
	msg := fmt.Sprintf("canary generation %d aborted: it gets no new sessions and drains", gen)
	if move {
		msg += "; its sessions were ended"
	}
	return msg, nil
}

func (c *Console) rollback(ctx context.Context, f url.Values) (string, error) {
	move := f.Get("move_sessions") == "true"
	gen, err := c.core.Rollback(ctx, move)
	if err != nil {
		return "", fmt.Errorf("rollback failed: %w", err)
	}
	msg := "rolled back: " + strings.Replace(c.activeLine(ctx, gen), " is active", " is active again", 1)
	if move {
		msg += "; the sessions of the generation rolled back from were ended"
	}
	return msg, nil
}

func (c *Console) retire(ctx context.Context, f url.Values) (string, error) {
	gen, err := generation(f)
	if err != nil {
		return "", err
	}
	force := f.Get("force") == "true"
	if err := c.core.Retire(ctx, gen, force); err != nil {
		return "", fmt.Errorf("retiring generation %d: %w", gen, err)
	}
	msg := fmt.Sprintf("generation %d is retiring: its workers are being stopped", gen)
	if force {
		msg += " (forced: its sessions and connections are dropped)"
	}
	return msg, nil
}

func (c *Console) endSession(ctx context.Context, f url.Values) (string, error) {
	hash := f.Get("hash")
	key, err := fleet.ParseSessionKey(hash)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", errBadForm, hash, err)
	}
	if err := c.core.EndSession(ctx, key); err != nil {
		return "", fmt.Errorf("ending session %s: %w", hash, err)
	}
	return fmt.Sprintf("session %s ended", hash), nil
}

// activeLine says which generation is now active, with its revision if
// one more look finds it.
func (c *Console) activeLine(ctx context.Context, gen int) string {
	gens, _ := c.core.Generations(ctx)
	return fleet.ActiveLine(gens, gen)
}
