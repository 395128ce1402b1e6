package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const testCookie = "NOTESSESSION"

func newTestApp() *app { return newApp("r-test", "g7", testCookie) }

// request runs one request through the real router.
func request(t *testing.T, a *app, method, target string, form url.Values, cookie *http.Cookie, asJSON bool) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	if asJSON {
		req.Header.Set("Accept", "application/json")
	}
	rec := httptest.NewRecorder()
	a.routes().ServeHTTP(rec, req)
	return rec
}

// setCookie returns the session cookie the response set, or nil.
func setCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == testCookie {
			return c
		}
	}
	return nil
}

func decodeWhoami(t *testing.T, rec *httptest.ResponseRecorder) whoamiReply {
	t.Helper()
	if got, want := rec.Header().Get("Content-Type"), "application/json"; got != want {
		t.Fatalf("Content-Type: got %q, want %q", got, want)
	}
	var w whoamiReply
	if err := json.Unmarshal(rec.Body.Bytes(), &w); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
	return w
}

func login(t *testing.T, a *app, user string, cookie *http.Cookie) *http.Cookie {
	t.Helper()
	rec := request(t, a, "POST", "/login", url.Values{"user": {user}}, cookie, false)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: got status %d, want %d", rec.Code, http.StatusSeeOther)
	}
	c := setCookie(rec)
	if c == nil {
		t.Fatalf("login: no %s cookie set", testCookie)
	}
	return c
}

func whoami(t *testing.T, a *app, cookie *http.Cookie) whoamiReply {
	t.Helper()
	rec := request(t, a, "GET", "/whoami", nil, cookie, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("whoami: got status %d, want 200", rec.Code)
	}
	return decodeWhoami(t, rec)
}

func addNote(t *testing.T, a *app, cookie *http.Cookie, note string) int {
	t.Helper()
	return request(t, a, "POST", "/notes", url.Values{"note": {note}}, cookie, false).Code
}

func TestLoginSetsCookie(t *testing.T) {
	a := newTestApp()
	rec := request(t, a, "POST", "/login", url.Values{"user": {"alice"}}, nil, false)
	if got, want := rec.Code, http.StatusSeeOther; got != want {
		t.Fatalf("status: got %d, want %d", got, want)
	}
	if got, want := rec.Header().Get("Location"), "/"; got != want {
		t.Errorf("Location: got %q, want %q", got, want)
	}
	c := setCookie(rec)
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(c.Value) {
		t.Errorf("cookie value: got %q, want 64 hex digits", c.Value)
	}
	if got, want := c.Path, "/"; got != want {
		t.Errorf("Path: got %q, want %q", got, want)
	}
	if !c.HttpOnly {
		t.Error("cookie is not HttpOnly")
	}
	if got, want := c.SameSite, http.SameSiteLaxMode; got != want {
		t.Errorf("SameSite: got %v, want %v", got, want)
	}
	if got, want := whoami(t, a, c), (whoamiReply{Revision: "r-test", Generation: "g7", PID: a.pid, User: "alice", Session: true}); got != want {
		t.Errorf("whoami: got %+v, want %+v", got, want)
	}
}

func TestLoginJSON(t *testing.T) {
	a := newTestApp()
	rec := request(t, a, "POST", "/login", url.Values{"user": {" bob "}}, nil, true)
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("status: got %d, want %d", got, want)
	}
	if setCookie(rec) == nil {
		t.Error("no session cookie")
	}
	got := decodeWhoami(t, rec)
	if want := (whoamiReply{Revision: "r-test", Generation: "g7", PID: a.pid, User: "bob", Session: true}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// The end-to-end tests behind proxies read the client address the worker
// was given from /whoami.
func TestWhoamiShowsForwardedFor(t *testing.T) {
	a := newTestApp()
	req := httptest.NewRequest("GET", "/whoami", nil)
	req.Header.Set("X-Forwarded-For", "192.0.2.7, 127.0.0.1")
	rec := httptest.NewRecorder()
	a.routes().ServeHTTP(rec, req)
	if got, want := decodeWhoami(t, rec).ForwardedFor, "192.0.2.7, 127.0.0.1"; got != want {
		t.Errorf("forwarded_for: got %q, want %q", got, want)
	}
	if body := whoami(t, a, nil); body.ForwardedFor != "" {
		t.Errorf("forwarded_for without the field: got %q, want none", body.ForwardedFor)
	}
}

func TestLoginRequiresUser(t *testing.T) {
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"missing", url.Values{}},
		{"empty", url.Values{"user": {""}}},
		{"blank", url.Values{"user": {"   "}}},
		{"other field", url.Values{"name": {"alice"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestApp()
			rec := request(t, a, "POST", "/login", tc.form, nil, false)
			if got, want := rec.Code, http.StatusBadRequest; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
			if c := setCookie(rec); c != nil {
				t.Errorf("cookie set on a failed login: %q", c.String())
			}
			if got := a.sessions.len(); got != 0 {
				t.Errorf("sessions: got %d, want 0", got)
			}
		})
	}
}

func TestLoginRotatesSession(t *testing.T) {
	a := newTestApp()
	first := login(t, a, "alice", nil)
	for _, n := range []string{"one", "two"} {
		if got, want := addNote(t, a, first, n), http.StatusSeeOther; got != want {
			t.Fatalf("add note: got %d, want %d", got, want)
		}
	}
	second := login(t, a, "alice2", first)
	if second.Value == first.Value {
		t.Fatalf("session id not rotated: got %q twice", first.Value)
	}
	if got := whoami(t, a, first); got.Session || got.User != "" || got.Notes != 0 {
		t.Errorf("old id still valid: got %+v", got)
	}
	got := whoami(t, a, second)
	if !got.Session || got.User != "alice2" || got.Notes != 2 {
		t.Errorf("new id: got %+v, want user %q with 2 notes", got, "alice2")
	}
	if got, want := a.sessions.len(), 1; got != want {
		t.Errorf("sessions: got %d, want %d", got, want)
	}
}

func TestLoginWithStaleCookieCreatesSession(t *testing.T) {
	a := newTestApp()
	stale := &http.Cookie{Name: testCookie, Value: "deadbeef"}
	c := login(t, a, "carol", stale)
	if c.Value == stale.Value {
		t.Fatalf("stale id reused: got %q", c.Value)
	}
	if got := whoami(t, a, c); !got.Session || got.User != "carol" || got.Notes != 0 {
		t.Errorf("got %+v, want a fresh session for carol", got)
	}
}

func TestNotes(t *testing.T) {
	a := newTestApp()
	valid := login(t, a, "dave", nil)
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		note   string
		want   int
	}{
		{"no cookie", nil, "x", http.StatusUnauthorized},
		{"unknown session", &http.Cookie{Name: testCookie, Value: "nope"}, "x", http.StatusUnauthorized},
		{"blank note", valid, "  ", http.StatusBadRequest},
		{"first", valid, "first", http.StatusSeeOther},
		{"second", valid, "second", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := addNote(t, a, tc.cookie, tc.note); got != tc.want {
				t.Errorf("status: got %d, want %d", got, tc.want)
			}
		})
	}
	if got, want := whoami(t, a, valid).Notes, 2; got != want {
		t.Errorf("notes: got %d, want %d", got, want)
	}
	rec := request(t, a, "POST", "/notes", url.Values{"note": {"third"}}, valid, true)
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("JSON add: got status %d, want %d", got, want)
	}
	if got, want := decodeWhoami(t, rec).Notes, 3; got != want {
		t.Errorf("JSON add: got %d notes, want %d", got, want)
	}
}

func TestLogoutDeletesCookie(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		name := map[bool]string{false: "redirect", true: "json"}[asJSON]
		t.Run(name, func(t *testing.T) {
			a := newTestApp()
			c := login(t, a, "erin", nil)
			rec := request(t, a, "POST", "/logout", url.Values{}, c, asJSON)
			wantCode := map[bool]int{false: http.StatusSeeOther, true: http.StatusOK}[asJSON]
			if rec.Code != wantCode {
				t.Errorf("status: got %d, want %d", rec.Code, wantCode)
			}
			del := setCookie(rec)
			if del == nil {
				t.Fatalf("no Set-Cookie for %s; headers %v", testCookie, rec.Header())
			}
			if del.Value != "" || del.MaxAge >= 0 || del.Path != "/" {
				t.Errorf("deletion cookie: got %q, want empty value, Max-Age<0, Path=/", del.String())
			}
			if got := whoami(t, a, c); got.Session {
				t.Errorf("session still valid after logout: got %+v", got)
			}
			if asJSON {
				if got := decodeWhoami(t, rec); got.Session || got.User != "" {
					t.Errorf("logout JSON: got %+v, want no session", got)
				}
			}
		})
	}
}

func TestSignoutKeepsCookie(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		name := map[bool]string{false: "redirect", true: "json"}[asJSON]
		t.Run(name, func(t *testing.T) {
			a := newTestApp()
			c := login(t, a, "frank", nil)
			rec := request(t, a, "POST", "/signout", url.Values{}, c, asJSON)
			wantCode := map[bool]int{false: http.StatusSeeOther, true: http.StatusOK}[asJSON]
			if rec.Code != wantCode {
				t.Errorf("status: got %d, want %d", rec.Code, wantCode)
			}
			if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
				t.Errorf("Set-Cookie: got %q, want none", got)
			}
			if got := whoami(t, a, c); got.Session || got.User != "" || got.Notes != 0 {
				t.Errorf("session still valid after signout: got %+v", got)
			}
		})
	}
}

func TestWhoamiShape(t *testing.T) {
	a := newTestApp()
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		want   map[string]any
	}{
		{"anonymous", nil, map[string]any{"user": "", "notes": 0.0, "session": false}},
		{"stale", &http.Cookie{Name: testCookie, Value: "gone"}, map[string]any{"user": "", "notes": 0.0, "session": false}},
		{"logged in", login(t, a, "gina", nil), map[string]any{"user": "gina", "notes": 0.0, "session": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := request(t, a, "GET", "/whoami", nil, tc.cookie, false)
			if got, want := rec.Header().Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			tc.want["revision"], tc.want["generation"], tc.want["pid"] = "r-test", "g7", float64(a.pid)
			if len(got) != len(tc.want) {
				t.Errorf("keys: got %q, want %q", rec.Body.String(), tc.want)
			}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s: got %#v, want %#v", k, got[k], want)
				}
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	rec := request(t, newTestApp(), "GET", "/healthz", nil, nil, false)
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), "ok")
	}
}

func TestRoutes(t *testing.T) {
	a := newTestApp()
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/", http.StatusOK},
		{"HEAD", "/healthz", http.StatusOK},
		{"GET", "/login", http.StatusMethodNotAllowed},
		{"GET", "/logout", http.StatusMethodNotAllowed},
		{"POST", "/whoami", http.StatusMethodNotAllowed},
		{"GET", "/nope", http.StatusNotFound},
		{"GET", "/slow?ms=x", http.StatusBadRequest},
		{"GET", "/slow?ms=-1", http.StatusBadRequest},
		{"GET", "/stream?chunks=x", http.StatusBadRequest},
		{"GET", "/stream?ms=x", http.StatusBadRequest},
		{"GET", "/ws", http.StatusBadRequest},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			if got := request(t, a, tc.method, tc.target, nil, nil, false).Code; got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// -fail breaks one path and leaves the others alone.
func TestFailing(t *testing.T) {
	h := failing("/report", newTestApp().routes())
	for target, want := range map[string]int{"/report": 500, "/healthz": 200, "/report/x": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", target, rec.Code, want)
		}
	}
}

func TestIndex(t *testing.T) {
	a := newTestApp()
	rec := request(t, a, "GET", "/", nil, nil, false)
	body := rec.Body.String()
	for _, want := range []string{`action="/login"`, "r-test", "g7"} {
		if !strings.Contains(body, want) {
			t.Errorf("anonymous page: missing %q", want)
		}
	}
	if strings.Contains(body, `action="/logout"`) {
		t.Error("anonymous page offers log off")
	}

	c := login(t, a, "<b>hal</b>", nil)
	addNote(t, a, c, "buy <milk>")
	body = request(t, a, "GET", "/", nil, c, false).Body.String()
	for _, want := range []string{`action="/notes"`, `action="/logout"`, "&lt;b&gt;hal&lt;/b&gt;", "buy &lt;milk&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("logged-in page: missing %q", want)
		}
	}
	if strings.Contains(body, "<b>hal</b>") {
		t.Error("user name not escaped")
	}
}

func TestSlow(t *testing.T) {
	a := newTestApp()
	c := login(t, a, "ivy", nil)
	start := time.Now()
	rec := request(t, a, "GET", "/slow?ms=50", nil, c, false)
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
		t.Errorf("answered after %v, want at least 50ms", elapsed)
	}
	if got := decodeWhoami(t, rec); got.User != "ivy" {
		t.Errorf("user: got %q, want %q", got.User, "ivy")
	}
}

func TestSlowStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/slow?ms=60000", nil)
	rec := httptest.NewRecorder()
	start := time.Now()
	newTestApp().routes().ServeHTTP(rec, req)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("returned after %v, want soon after cancellation", elapsed)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("body: got %q, want nothing", rec.Body.String())
	}
}

func TestStream(t *testing.T) {
	rec := request(t, newTestApp(), "GET", "/stream?chunks=3&ms=1", nil, nil, false)
	if got, want := rec.Body.String(), "chunk 0\nchunk 1\nchunk 2\n"; got != want {
		t.Errorf("body: got %q, want %q", got, want)
	}
	if !rec.Flushed {
		t.Error("response was never flushed")
	}
}

// TestStreamArrivesIncrementally proves the first chunk is on the wire long
// before the last one is written.
func TestStreamArrivesIncrementally(t *testing.T) {
	srv := httptest.NewServer(newTestApp().routes())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream?chunks=2&ms=10000", nil)
	start := time.Now()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if got, want := line, "chunk 0\n"; got != want {
		t.Errorf("first line: got %q, want %q", got, want)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("first chunk after %v: the response was buffered", elapsed)
	}
}

// TestEchoStreams writes the request body piece by piece and expects each
// piece back before sending the next: only a full-duplex stream passes.
func TestEchoStreams(t *testing.T) {
	srv := httptest.NewServer(newTestApp().routes())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel() // a half-duplex server would otherwise hang the test
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/echo", pr)
	req.Header.Set("Content-Type", "text/plain")
	respc := make(chan *http.Response, 1)
	errc := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err != nil {
			errc <- err
			return
		}
		respc <- resp
	}()
	io.WriteString(pw, "first\n")
	var resp *http.Response
	select {
	case resp = <-respc:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no response headers while the body is still open")
	}
	defer resp.Body.Close()
	if got, want := resp.Header.Get("Content-Type"), "text/plain"; got != want {
		t.Errorf("Content-Type: got %q, want %q", got, want)
	}
	r := bufio.NewReader(resp.Body)
	for _, piece := range []string{"first\n", "second\n", "third\n"} {
		if piece != "first\n" {
			io.WriteString(pw, piece)
		}
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if got != piece {
			t.Errorf("got %q, want %q", got, piece)
		}
	}
	pw.Close()
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Errorf("trailing data: got %q, want none", rest)
	}
}
