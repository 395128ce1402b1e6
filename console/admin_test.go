package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/fleet/fleettest"
	"golang.org/x/crypto/bcrypt"
)

// fakeCore is the gateway behind the console: generations and sessions
// the tests set, and the calls it was asked to make.
type fakeCore struct {
	mu       sync.Mutex
	gens     []fleet.Generation
	sessions []fleet.Pin
	err      error    // returned by the mutating methods if set
	calls    []string // "upgrade", "detach 4", "retire 3 force=true", "end-session HASH"
	store    fleet.PinStore
}

// testListeners are the fake's: a plain one, a TLS one whose certificate
// expires in three days (flagged) and one behind a load balancer.
var testListeners = []fleet.Listener{
	{Address: "127.0.0.1:8080", Certificates: []fleet.Certificate{}},
	{Name: "https", Address: "0.0.0.0:8443", TLS: true, HTTP2: true, Certificates: []fleet.Certificate{
		{File: "/etc/ssl/site.pem", Names: []string{"site.test", "www.site.test"}, NotAfter: time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)}}},
	{Name: "lb", Address: "10.0.0.5:8080", ProxyProtocol: true, Certificates: []fleet.Certificate{}},
}

func (f *fakeCore) Listeners(context.Context) ([]fleet.Listener, error) { return testListeners, nil }

// The page lists the listeners, what they speak, and flags a certificate
// close to its end.
func TestListenersShown(t *testing.T) {
	_, srv := console(t, newCore(), Options{})
	_, body := newBrowser(t, srv.URL).do("GET", "/", nil)
	for _, want := range []string{
		"<code>127.0.0.1:8080</code></dt>\n    <dd>HTTP/1.1",
		"https <code>0.0.0.0:8443</code></dt>\n    <dd>TLS · HTTP/2 and HTTP/1.1",
		`<span class="cert soon">certificate <code>/etc/ssl/site.pem</code> (site.test, www.site.test) · expires`,
		"lb <code>10.0.0.5:8080</code></dt>\n    <dd>HTTP/1.1 · PROXY protocol",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func (f *fakeCore) PinStore(context.Context) (fleet.PinStore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store, nil
}

var _ fleet.Core = (*fakeCore)(nil)

func (f *fakeCore) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeCore) Upgrade(context.Context) (int, error) {
	if err := f.record("upgrade"); err != nil {
		return 0, err
	}
	return f.replaceActive(), nil
}

func (f *fakeCore) Detach(_ context.Context, gen int) (int, error) {
	if err := f.record(fmt.Sprintf("detach %d", gen)); err != nil {
		return 0, err
	}
	return f.replaceActive(), nil
}

// Rollback, UpgradeCanary, Promote and Abort move the generations as the
// supervisor does (fleet/fleettest).
func (f *fakeCore) Rollback(_ context.Context, move bool) (int, error) {
	if err := f.record(fmt.Sprintf("rollback move=%t", move)); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return fleettest.Rollback(f.gens)
}

func (f *fakeCore) UpgradeCanary(_ context.Context, share float64) (int, error) {
	if err := f.record(fmt.Sprintf("canary %g", share)); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var id int
	f.gens, id = fleettest.AddCanary(f.gens, share)
	return id, nil
}

func (f *fakeCore) Promote(context.Context) (int, error) { return f.endTrial("promote", fleet.Active) }

func (f *fakeCore) Abort(_ context.Context, move bool) (int, error) {
	return f.endTrial(fmt.Sprintf("abort move=%t", move), fleet.Detached)
}

func (f *fakeCore) endTrial(call string, to fleet.State) (int, error) {
	if err := f.record(call); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return fleettest.EndTrial(f.gens, to)
}

// replaceActive starts generation max+1 on revision r<N> and detaches the
// active one, as an upgrade does.
func (f *fakeCore) replaceActive() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := 1
	for i, g := range f.gens {
		next = max(next, g.ID+1)
		if g.State == "active" {
			f.gens[i].State = "detached"
			f.gens[i].Detached = at(0)
		}
	}
	f.gens = append(f.gens, fleet.Generation{ID: next, State: "active", Revision: fmt.Sprintf("r%d", next), Started: at(0)})
	return next
}

func (f *fakeCore) Retire(_ context.Context, gen int, force bool) error {
	return f.record(fmt.Sprintf("retire %d force=%t", gen, force))
}

func (f *fakeCore) Generations(context.Context) ([]fleet.Generation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.gens), nil
}

func (f *fakeCore) Sessions(context.Context) ([]fleet.Pin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sessions), nil
}

// RecentSessions returns them all: the page lists at most n of each.
func (f *fakeCore) RecentSessions(ctx context.Context, n int) ([]fleet.Pin, error) {
	return f.Sessions(ctx)
}

func (f *fakeCore) EndSession(_ context.Context, key fleet.SessionKey) error {
	return f.record("end-session " + key.String())
}

func (f *fakeCore) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeCore) setGens(gens ...fleet.Generation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gens = gens
}

// at is d from now.
func at(d time.Duration) time.Time { return time.Now().Add(d) }

func key(hash string) fleet.SessionKey {
	k, err := fleet.ParseSessionKey(hash)
	if err != nil {
		panic(err)
	}
	return k
}

const (
	hashA = "0123456789abcdef0123456789abcdef"
	hashB = "fedcba9876543210fedcba9876543210"
	hashC = "00112233445566778899aabbccddeeff"
)

// newCore is a gateway in the middle of a life: generation 4 active for
// 3h12m with two workers under systemd, 3 detached 10 minutes ago with a
// drain deadline in 49m30s and one session, 5 starting.
func newCore() *fakeCore {
	return &fakeCore{
		store: fleet.PinStore{Path: "/run/gateway/notes.pins", Bytes: 40_200_000, LastWrite: at(-5 * time.Minute),
			Error: "open /run/gateway/notes.pins.tmp: read-only file system", WriteFailures: 12},
		gens: []fleet.Generation{
			{ID: 3, State: "detached", Revision: "2026-11-13", Unit: "gateway-gen3.scope", PIDs: []int{1200},
				Usage:   fleet.Usage{Sessions: 1, InFlight: 2, Upgraded: 3},
				Started: at(-50 * time.Hour), Detached: at(-10*time.Minute - 30*time.Second), Deadline: at(49*time.Minute + 30*time.Second)},
			{ID: 4, State: "active", Revision: "2026-11-20", Unit: "gateway-gen4.scope", PIDs: []int{1234, 1235},
				Usage: fleet.Usage{Sessions: 2, InFlight: 7}, Started: at(-3*time.Hour - 12*time.Minute - 30*time.Second)},
			{ID: 5, State: "starting", Revision: "2026-11-21", Started: at(-5 * time.Second)},
		},
		sessions: []fleet.Pin{
			{Key: key(hashA), Generation: 3, Instance: 1, LastSeen: at(-1500 * time.Second)},
			{Key: key(hashB), Generation: 4, Instance: 2, LastSeen: at(-192 * time.Second)},
			{Key: key(hashC), Generation: 4, Instance: 1, LastSeen: at(-5 * time.Second)},
		},
	}
}

// console serves a console of core on loopback.
func console(t *testing.T, core fleet.Core, o Options) (*Console, *httptest.Server) {
	t.Helper()
	o.Local = o.Local || o.PasswordHash == ""
	o.App, o.Version = "notes", "1.4.0"
	c, err := New(core, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// get wants a 200.
func (b *browser) get(path string) string {
	b.t.Helper()
	resp, body := b.do("GET", path, nil)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: status %d, want 200; body %q", path, resp.StatusCode, body)
	}
	return body
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token loads the page and returns the token of its forms.
func (b *browser) token() string {
	b.t.Helper()
	m := tokenRE.FindStringSubmatch(b.get("/"))
	if m == nil {
		b.t.Fatal("no csrf field in the page")
	}
	return m[1]
}

var flashRE = regexp.MustCompile(`<p class="flash (ok|error)" role="status">([^<]*)</p>`)

// flash loads the page and returns its flash message ("ok: …", "error: …").
func (b *browser) flash() string {
	b.t.Helper()
	m := flashRE.FindStringSubmatch(b.get("/"))
	if m == nil {
		return ""
	}
	return m[1] + ": " + html.UnescapeString(m[2])
}

func TestActions(t *testing.T) {
	upgradeFailed := errors.New("generation 6 did not become ready within 30s: its worker exited with status 1")
	tests := []struct {
		name      string
		path      string
		form      url.Values
		coreErr   error
		wantCall  string
		wantFlash string
	}{
		{"upgrade", "/upgrade", nil, nil, "upgrade",
			"ok: upgrade done: generation 6 is active (revision r6)"},
		{"upgrade fails", "/upgrade", nil, upgradeFailed, "upgrade",
			"error: upgrade failed: generation 6 did not become ready within 30s: its worker exited with status 1 (the active generation keeps serving)"},
		{"detach", "/detach", url.Values{"generation": {"4"}}, nil, "detach 4",
			"ok: generation 4 detached; generation 6 is active (revision r6)"},
		{"detach fails", "/detach", url.Values{"generation": {"3"}}, fmt.Errorf("generation 3 is detached: only the active generation can be detached"+": %w", fleet.ErrInvalidState), "detach 3",
			"error: detaching generation 3: generation 3 is detached: only the active generation can be detached: not possible in the generation's state"},
		{"retire", "/retire", url.Values{"generation": {"3"}}, nil, "retire 3 force=false",
			"ok: generation 3 is retiring: its workers are being stopped"},
		{"retire refused", "/retire", url.Values{"generation": {"3"}}, fmt.Errorf("generation 3 still has 1 sessions, 2 requests and 3 upgraded connections: retire it with force to drop them"+": %w", fleet.ErrInvalidState), "retire 3 force=false",
			"error: retiring generation 3: generation 3 still has 1 sessions, 2 requests and 3 upgraded connections: retire it with force to drop them: not possible in the generation's state"},
		{"force retire", "/retire", url.Values{"generation": {"3"}, "force": {"true"}}, nil, "retire 3 force=true",
			"ok: generation 3 is retiring: its workers are being stopped (forced: its sessions and connections are dropped)"},
		{"end session", "/end-session", url.Values{"hash": {hashA}}, nil, "end-session " + hashA,
			"ok: session " + hashA + " ended"},
		{"end session fails", "/end-session", url.Values{"hash": {hashA}}, errors.New("no pinned session " + hashA), "end-session " + hashA,
			"error: ending session " + hashA + ": no pinned session " + hashA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := newCore()
			core.err = tt.coreErr
			_, srv := console(t, core, Options{})
			b := newBrowser(t, srv.URL)
			form := url.Values{"csrf": {b.token()}}
			for k, v := range tt.form {
				form[k] = v
			}
			resp, body := b.do("POST", tt.path, form)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want 303; body %q", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Location"); got != "./" {
				t.Errorf("Location: got %q, want %q", got, "./")
			}
			if got := core.called(); !slices.Equal(got, []string{tt.wantCall}) {
				t.Errorf("calls: got %q, want %q", got, []string{tt.wantCall})
			}
			if got := b.flash(); got != tt.wantFlash {
				t.Errorf("flash: got %q, want %q", got, tt.wantFlash)
			}
			if got := b.flash(); got != "" {
				t.Errorf("flash on the next page: got %q, want none (shown once)", got)
			}
		})
	}
}

func TestBadForms(t *testing.T) {
	for _, tt := range []struct {
		path string
		form url.Values
	}{
		{"/detach", url.Values{"generation": {"x"}}},
		{"/retire", url.Values{}},
		{"/end-session", url.Values{}},
	} {
		core := newCore()
		_, srv := console(t, core, Options{})
		b := newBrowser(t, srv.URL)
		tt.form.Set("csrf", b.token())
		if resp, _ := b.do("POST", tt.path, tt.form); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s %v: status %d, want 400", tt.path, tt.form, resp.StatusCode)
		}
		if got := core.called(); len(got) != 0 {
			t.Errorf("POST %s %v: calls %q, want none", tt.path, tt.form, got)
		}
	}
}

// A POST without the page's token is refused, and the Core is not asked.
func TestCSRF(t *testing.T) {
	core := newCore()
	_, srv := console(t, core, Options{})
	_, other := console(t, newCore(), Options{})

	good := newBrowser(t, srv.URL)
	token := good.token()
	foreign := newBrowser(t, other.URL).token() // a token of another console (another key)
	fresh := newBrowser(t, srv.URL)             // never loaded the page: no cookie

	tests := []struct {
		name   string
		b      *browser
		form   url.Values
		header map[string]string
	}{
		{"no token", good, url.Values{}, nil},
		{"empty token", good, url.Values{"csrf": {""}}, nil},
		{"wrong token", good, url.Values{"csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}, nil},
		{"another console's token", good, url.Values{"csrf": {foreign}}, nil},
		{"token without its cookie", fresh, url.Values{"csrf": {token}}, nil},
		{"cross-origin", good, url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
	for _, tt := range tests {
		for _, path := range []string{"/upgrade", "/detach", "/retire", "/end-session"} {
			form := url.Values{"generation": {"4"}, "hash": {hashA}}
			for k, v := range tt.form {
				form[k] = v
			}
			req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := tt.b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: POST %s: status %d, want 403", tt.name, path, resp.StatusCode)
			}
			if !strings.Contains(string(body), "Nothing was done") {
				t.Errorf("%s: POST %s: body %q, want the refusal page", tt.name, path, body)
			}
		}
	}
	if got := core.called(); len(got) != 0 {
		t.Errorf("calls: got %q, want none", got)
	}
	// The same browser with its token gets through.
	if resp, _ := good.do("POST", "/upgrade", url.Values{"csrf": {token}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("with the token: status %d, want 303", resp.StatusCode)
	}
	// The nonce cookie is HttpOnly and SameSite=Strict.
	resp, _ := newBrowser(t, srv.URL).do("GET", "/", nil)
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Name != "gateway-admin-notes" {
		t.Errorf("cookies: got %+v, want one HttpOnly SameSite=Strict gateway-admin-notes", cookies)
	}
}

func TestNewRefuses(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if _, err := New(newCore(), Options{App: "notes", Local: false}); !errors.Is(err, ErrNeedsPassword) {
		t.Errorf("not local, no password: got %v, want ErrNeedsPassword", err)
	}
	if _, err := New(newCore(), Options{App: "notes", Local: false, PasswordHash: string(hash)}); err != nil {
		t.Errorf("not local, with a password: %v", err)
	}
	if _, err := New(newCore(), Options{App: "notes", Local: true}); err != nil {
		t.Errorf("local without a password: %v", err)
	}
	if _, err := New(newCore(), Options{App: "notes", Local: true, PasswordHash: "plain"}); err == nil || !strings.Contains(err.Error(), "not a bcrypt hash") {
		t.Errorf("a hash that is not bcrypt: got %v, want an error saying so", err)
	}
}

// A pin store that cannot write is said on the page, with what it risks.
func TestPinStoreFailureIsShown(t *testing.T) {
	core := newCore()
	_, srv := console(t, core, Options{})
	b := newBrowser(t, srv.URL)
	_, body := b.do("GET", "/", nil)
	for _, want := range []string{`class="flash error pin-store"`, "Writing the pins to /run/gateway/notes.pins fails (12 failed writes so far)",
		"read-only file system", "would lose the sessions changed since its last write"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	core.mu.Lock()
	core.store.Error = ""
	core.mu.Unlock()
	if _, body := b.do("GET", "/", nil); strings.Contains(body, "pin-store") {
		t.Error("the page still warns about the pin store after it recovered")
	}
}

// /api/status is the status document (its contract: fleet/testdata/status.json),
// byte for byte what gatewayctl status --json prints of the same state.
func TestAPIStatus(t *testing.T) {
	core := newCore()
	_, srv := console(t, core, Options{})
	b := newBrowser(t, srv.URL)
	resp, body := b.do("GET", "/api/status", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q; want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	st := fleet.NewStatus("notes", "1.4.0", core.gens, core.store)
	st.Listeners = testListeners
	enc.Encode(st)
	if body != want.String() {
		t.Errorf("got\n%s\nwant\n%s", body, want.String())
	}
	var got fleet.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.ActiveGeneration != 4 || got.Sessions != 3 || len(got.Generations) != 3 {
		t.Errorf("decoding %s: %+v, %v; want active 4, 3 sessions, 3 generations", body, got, err)
	}
	// No generation yet: an empty array, not null.
	core.setGens()
	if _, body := b.do("GET", "/api/status", nil); !strings.Contains(body, `"generations": []`) {
		t.Errorf("no generations: got %s, want \"generations\": []", body)
	}
}

// The page shows every generation's fields, its sessions and its actions.
func TestPage(t *testing.T) {
	core := newCore()
	_, srv := console(t, core, Options{})
	page := newBrowser(t, srv.URL).get("/")
	section := func(id int) string {
		_, rest, ok := strings.Cut(page, fmt.Sprintf(`id="gen%d"`, id))
		if !ok {
			t.Fatalf("no section for generation %d in\n%s", id, page)
		}
		s, _, _ := strings.Cut(rest, "</section>")
		return s
	}
	want := map[int][]string{
		3: {`<span class="badge detached">detached</span>`, "2026-11-13", "<code>gateway-gen3.scope</code>", "1200",
			`<dd class="sessions">1</dd>`, "2 requests", "3 open connections", "2d2h",
			"10m30s ago", "<b>49m30s</b> left", `action="retire"`, `name="force" value="true"`, "Force retire",
			"<code>" + hashA + "</code>", "25m", `name="hash" value="` + hashA + `"`, "End session", "<svg"},
		4: {`<span class="badge active">active</span>`, "2026-11-20", "<code>gateway-gen4.scope</code>", "1234, 1235",
			`<dd class="sessions">2</dd>`, "7 requests", "0 open connections", "3h12m", `action="detach"`,
			"<code>" + hashB + "</code>", "3m12s", "<code>" + hashC + "</code>", "5s"},
		5: {`<span class="badge starting">starting</span>`, "2026-11-21", "none (plain processes)", "No pinned sessions."},
	}
	for id, texts := range want {
		s := section(id)
		for _, text := range texts {
			if !strings.Contains(s, text) {
				t.Errorf("generation %d: no %q in\n%s", id, text, s)
			}
		}
	}
	if s := section(4); strings.Contains(s, `action="retire"`) || strings.Index(s, hashC) > strings.Index(s, hashB) {
		t.Errorf("generation 4: want no Retire for the active generation and the least idle session first:\n%s", s)
	}
	if s := section(3); strings.Contains(s, `action="detach"`) {
		t.Errorf("generation 3: want no Detach for a detached generation")
	}
	// The order of gatewayctl status: active, starting, detached.
	if i4, i5, i3 := strings.Index(page, `id="gen4"`), strings.Index(page, `id="gen5"`), strings.Index(page, `id="gen3"`); !(i4 < i5 && i5 < i3) {
		t.Errorf("order: got gen4 at %d, gen5 at %d, gen3 at %d; want 4, 5, 3", i4, i5, i3)
	}
	for _, text := range []string{"Generation <b>4</b> is active (revision <b>2026-11-20</b>)", "<b>3</b> pinned sessions",
		`action="upgrade"`, `<link rel="stylesheet" href="static/console.css">`, `<script src="static/console.js" defer></script>`,
		`data-busy="true"`, `<noscript><meta http-equiv="refresh" content="3"></noscript>`} {
		if !strings.Contains(page, text) {
			t.Errorf("no %q in the page", text)
		}
	}
	// The live part alone, for the script.
	live := newBrowser(t, srv.URL).get("/live")
	if strings.Contains(live, "<html") || !strings.Contains(live, `id="gen3"`) || !strings.Contains(live, `name="csrf"`) {
		t.Errorf("/live: want the generations with their forms and no page around them, got\n%s", live)
	}
}

func TestSessionListIsCapped(t *testing.T) {
	core := newCore()
	for i := range 25 {
		core.sessions = append(core.sessions, fleet.Pin{Key: key(fmt.Sprintf("%032x", i+1)), Generation: 4, Instance: 1, LastSeen: at(-time.Duration(i) * time.Second)})
	}
	core.gens[1].Sessions += 25 // the count the rest of the list comes from
	_, srv := console(t, core, Options{})
	page := newBrowser(t, srv.URL).get("/")
	if got := strings.Count(page, "End session</button>"); got != 1+maxListed {
		t.Errorf("End session buttons: got %d, want %d (1 of generation 3, %d of generation 4)", got, 1+maxListed, maxListed)
	}
	if want := "and 7 more (<code>gatewayctl sessions --generation 4</code> lists them all)"; !strings.Contains(page, want) {
		t.Errorf("no %q in the page", want)
	}
}

// Samples make sparklines; a generation that disappears is listed as gone,
// with its sparkline.
func TestSparklines(t *testing.T) {
	core := newCore()
	c, srv := console(t, core, Options{})
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 6 {
		core.mu.Lock()
		core.gens[1].Sessions = i
		core.mu.Unlock()
		c.sample(ctx)
		now = now.Add(10 * time.Second)
	}
	page := newBrowser(t, srv.URL).get("/")
	s := page[strings.Index(page, `id="gen4"`):]
	s = s[:strings.Index(s, "</section>")]
	re := regexp.MustCompile(`<svg class="sparkline"[^>]*><title>sessions of generation 4: 5 now, at most 5 in the last 1m</title>.*?<polyline points="([^"]+)"/></svg>`)
	m := re.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no sparkline for generation 4 in\n%s", s)
	}
	// Seven samples (six, and the page's own) as steps: 13 points, from the
	// left edge at 0 sessions (the bottom) to the right edge at 5 (the top).
	pts := strings.Fields(m[1])
	if len(pts) != 13 || pts[0] != "0.0,30.0" || pts[len(pts)-1] != "160.0,2.0" {
		t.Errorf("points: got %q, want 13 from 0.0,30.0 to 160.0,2.0", pts)
	}

	core.setGens(core.gens[1:]...) // generation 3 retired
	now = now.Add(10 * time.Second)
	c.sample(ctx)
	page = newBrowser(t, srv.URL).get("/")
	if strings.Contains(page, `id="gen3"`) {
		t.Fatal("generation 3 is still listed")
	}
	gone := regexp.MustCompile(`(?s)<li id="gone3"><span>Generation 3 <span class="muted">\(2026-11-13\)</span> <span class="badge retired">retired</span>.*?<svg class="sparkline".*?<polyline`)
	if !gone.MatchString(page) {
		t.Errorf("no gone generation 3 with a sparkline in\n%s", page)
	}
}

func TestRunSamplesUntilCancelled(t *testing.T) {
	core := newCore()
	c, err := New(core, Options{Local: true, SampleInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if s := c.hist.snapshot(); len(s.series[4]) == 0 {
		t.Error("no samples of generation 4 after Run")
	}
}

func TestHeaders(t *testing.T) {
	_, srv := console(t, newCore(), Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "gateway_up 1\n")
	})})
	b := newBrowser(t, srv.URL)
	for _, path := range []string{"/", "/live", "/api/status", "/static/console.css", "/static/console.js", "/metrics", "/nowhere"} {
		resp, body := b.do("GET", path, nil)
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("GET %s: %s: got %q, want %q", path, k, got, want)
			}
		}
		if path == "/metrics" && body != "gateway_up 1\n" {
			t.Errorf("/metrics: got %q, want the metrics handler's answer", body)
		}
	}
	_, srv = console(t, newCore(), Options{})
	if resp, _ := newBrowser(t, srv.URL).do("GET", "/metrics", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics without Options.Metrics: status %d, want 404", resp.StatusCode)
	}
}

// The active generation's section offers a rollback to the newest detached
// one; the action makes it active again, and with move_sessions says the
// bad generation's sessions were ended.
func TestRollbackButton(t *testing.T) {
	core := newCore()
	_, srv := console(t, core, Options{})
	b := newBrowser(t, srv.URL)
	_, body := b.do("GET", "/", nil)
	if !strings.Contains(body, ">Roll back to 3</button>") {
		t.Fatalf("the page offers no rollback to generation 3:\n%s", body)
	}
	resp, _ := b.do("POST", "/rollback", url.Values{"csrf": {b.token()}, "move_sessions": {"true"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /rollback: %d, want 303", resp.StatusCode)
	}
	if got := b.flash(); !strings.HasPrefix(got, "ok: rolled back: generation 3 is active again") || !strings.Contains(got, "were ended") {
		t.Errorf("flash %q, want the rollback to generation 3 with its sessions ended", got)
	}
	core.mu.Lock()
	calls := slices.Clone(core.calls)
	core.mu.Unlock()
	if !slices.Contains(calls, "rollback move=true") {
		t.Errorf("the core got %q, want a rollback moving sessions", calls)
	}
}

// A canary started from the console shows Promote and Abort on its card;
// promoting it makes it active.
func TestCanaryButtons(t *testing.T) {
	core := newCore()
	_, srv := console(t, core, Options{})
	b := newBrowser(t, srv.URL)
	b.do("POST", "/canary", url.Values{"csrf": {b.token()}, "percent": {"10"}})
	if got := b.flash(); !strings.HasPrefix(got, "ok: generation 6 is the canary: 10% of new sessions") {
		t.Fatalf("flash %q", got)
	}
	if body := b.get("/"); !strings.Contains(body, ">Promote</button>") || !strings.Contains(body, ">Abort</button>") ||
		!strings.Contains(body, "10% of new sessions, on trial for ") || !strings.Contains(body, "judged by an admin") {
		t.Fatalf("the canary's card has no Promote and Abort, or no trial:\n%s", body)
	}
	b.do("POST", "/promote", url.Values{"csrf": {b.token()}})
	if got := b.flash(); !strings.HasPrefix(got, "ok: promoted: generation 6 is active") {
		t.Errorf("flash %q", got)
	}
	if resp, _ := b.do("POST", "/canary", url.Values{"csrf": {b.token()}, "percent": {"0"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a canary of 0%%: status %d, want 400", resp.StatusCode)
	}
}

// The canary's card shows its trial: its share and time on trial, its
// figures beside the active generation's, and the judge with its verdict,
// or that an admin decides. They are the supervisor's (Generation.Trial),
// put in gatewayctl status's words.
func TestCanaryTrialShown(t *testing.T) {
	core := newCore()
	now := time.Now()
	started := now.Add(-(3*time.Minute + 12*time.Second))
	trial := fleettest.JudgedTrial(started, now)
	core.gens[2] = fleet.Generation{ID: 5, State: fleet.Canary, Revision: "2026-11-21", Unit: "gateway-gen5.scope", PIDs: []int{1300},
		Usage: fleet.Usage{Sessions: 2}, Started: started.Add(-2 * time.Second), Trial: trial}
	c, srv := console(t, core, Options{})
	c.now = func() time.Time { return now }
	b := newBrowser(t, srv.URL)
	card := func() string {
		t.Helper()
		page := b.get("/")
		_, rest, ok := strings.Cut(page, `id="gen5"`)
		if !ok {
			t.Fatalf("no card for generation 5 in\n%s", page)
		}
		s, _, _ := strings.Cut(rest, "</section>")
		return s
	}
	s := card()
	for _, want := range []string{
		`<span class="badge canary">canary</span>`,
		`<dt>Trial</dt><dd class="trial">10% of new sessions, on trial for 3m12s <span class="muted">(since <time datetime="` +
			started.UTC().Format(time.RFC3339) + `">`,
		`<dt>Canary's answers</dt><dd class="figures canary">250 requests, 5xx 0.40%, p99 40ms</dd>`,
		`<dt>Active's answers</dt><dd class="figures active">2400 requests, 5xx 0.08%, p99 36ms <span class="muted">(generation 4, over the same span)</span></dd>`,
		`<dt>Judgement</dt><dd class="judge">judged by [canary]: aborted at 5xx &gt; active &#43; 1 point or p99 &gt; active &#43; 50% (at least 10ms), once it has 200 requests; promoted after 30m</dd>`,
		`<dt>Verdict</dt><dd class="verdict"><b>within the margins so far: 5xx 0.40% against 0.08%, p99 40ms against 36ms over 250 and 2400 answers</b></dd>`,
		">Promote</button>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the canary's card lacks %q:\n%s", want, s)
		}
	}
	if page := b.get("/"); strings.Count(page, `<dt>Trial</dt>`) != 1 {
		t.Errorf("a trial shown on %d cards, want only the canary's", strings.Count(page, `<dt>Trial</dt>`))
	}

	// A canary an admin decides: no judge, no verdict.
	core.mu.Lock()
	core.gens[2].Trial = &fleet.Trial{Share: 0.05, Started: started}
	core.mu.Unlock()
	s = card()
	for _, want := range []string{
		`<dd class="trial">5% of new sessions, on trial for 3m12s`,
		`<dd class="figures canary">no requests yet</dd>`,
		`<dt>Judgement</dt><dd class="judge">judged by an admin (no [canary] judge): Promote or Abort below</dd>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the canary's card lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Verdict") {
		t.Errorf("a verdict without a judge:\n%s", s)
	}

	// /api/status carries the same trial.
	var st fleet.Status
	if err := json.Unmarshal([]byte(b.get("/api/status")), &st); err != nil {
		t.Fatal(err)
	}
	if g := st.Generations[2]; g.ID != 5 || g.Trial == nil || g.Trial.Share != 0.05 {
		t.Errorf("/api/status: generation %d's trial %+v, want generation 5's", g.ID, g.Trial)
	}
}
