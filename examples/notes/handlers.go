package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	maxFormBytes = 64 << 10
	maxSlowMS    = 60000
	maxChunks    = 10000
)

// app is one process's worth of state; it dies with the process, which is
// the property the gateway manages.
type app struct {
	revision   string
	generation string
	pid        int
	cookie     string
	sessions   *store
	ws         *wsTracker
}

func newApp(revision, generation, cookie string) *app {
	return &app{
		revision:   revision,
		generation: generation,
		pid:        os.Getpid(),
		cookie:     cookie,
		sessions:   newStore(),
		ws:         newWSTracker(),
	}
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /notes", a.addNote)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /signout", a.signout)
	mux.HandleFunc("GET /whoami", a.whoami)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /slow", a.slow)
	mux.HandleFunc("GET /stream", a.stream)
	mux.HandleFunc("POST /echo", a.echo)
	mux.HandleFunc("GET /ws", a.websocket)
	return mux
}

// failing answers 500 to every request for path (none if ""), as a release
// with a broken page does; the rest goes to h.
func failing(path string, h http.Handler) http.Handler {
	if path == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			http.Error(w, "500 this release is broken on "+path+" (notes -fail)", http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// whoamiReply is the JSON every test reads to learn which process answered
// and what it knows about the caller's session.
type whoamiReply struct {
	Revision   string `json:"revision"`
	Generation string `json:"generation"`
	PID        int    `json:"pid"`
	User       string `json:"user"`
	Notes      int    `json:"notes"`
	Session    bool   `json:"session"`
	// ForwardedFor is the X-Forwarded-For the worker got: tests read it to
	// see which client address reached the app through the proxies.
	ForwardedFor string `json:"forwarded_for,omitempty"`
}

// current finds the caller's live session. Every cookie of that name is
// tried, because a browser may hold a stale one for another path as well.
func (a *app) current(r *http.Request) (string, sessionView, bool) {
	for _, c := range r.CookiesNamed(a.cookie) {
		if s, ok := a.sessions.get(c.Value); ok {
			return c.Value, s, true
		}
	}
	return "", sessionView{}, false
}

func (a *app) who(id string) whoamiReply {
	reply := whoamiReply{Revision: a.revision, Generation: a.generation, PID: a.pid}
	if s, ok := a.sessions.get(id); ok {
		reply.User, reply.Notes, reply.Session = s.User, len(s.Notes), true
	}
	return reply
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(strings.Join(r.Header.Values("Accept"), ","), "application/json")
}

// finish ends a POST: browsers get Post/Redirect/Get, scripts get the state
// they just changed without a second request.
func (a *app) finish(w http.ResponseWriter, r *http.Request, id string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, a.who(id))
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// formValue reads one required, non-blank field of a POSTed form.
func formValue(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseMultipartForm(maxFormBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "form too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		}
		return "", false
	}
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		http.Error(w, name+" is required", http.StatusBadRequest)
		return "", false
	}
	return v, true
}

func (a *app) sessionCookie(id string) *http.Cookie {
	return &http.Cookie{Name: a.cookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	user, ok := formValue(w, r, "user")
	if !ok {
		return
	}
	id, _, found := a.current(r)
	if found {
		id, found = a.sessions.rotate(id, user)
	}
	if !found {
		id = a.sessions.create(user)
	}
	http.SetCookie(w, a.sessionCookie(id))
	a.finish(w, r, id)
}

func (a *app) addNote(w http.ResponseWriter, r *http.Request) {
	id, _, ok := a.current(r)
	if !ok {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	note, ok := formValue(w, r, "note")
	if !ok {
		return
	}
	if !a.sessions.addNote(id, note) { // expired between the two calls
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	a.finish(w, r, id)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if id, _, ok := a.current(r); ok {
		a.sessions.delete(id)
	}
	c := a.sessionCookie("")
	c.MaxAge = -1 // sent as Max-Age=0: delete now
	http.SetCookie(w, c)
	a.finish(w, r, "")
}

// signout forgets the session but leaves the cookie in the browser, like
// many real apps do; the gateway's logout_paths exists for such apps.
func (a *app) signout(w http.ResponseWriter, r *http.Request) {
	if id, _, ok := a.current(r); ok {
		a.sessions.delete(id)
	}
	a.finish(w, r, "")
}

func (a *app) whoami(w http.ResponseWriter, r *http.Request) {
	id, _, _ := a.current(r)
	reply := a.who(id)
	reply.ForwardedFor = r.Header.Get("X-Forwarded-For")
	writeJSON(w, http.StatusOK, reply)
}

func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

// intParam reads a non-negative query parameter, clamping it to max.
func intParam(r *http.Request, name string, def, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, s)
	}
	return min(n, max), nil
}

// sleep waits for d unless ctx ends first, reporting whether it slept fully,
// so a request abandoned by its client stops costing a goroutine.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// slow is an in-flight request for drain tests: it must complete on the
// generation that accepted it even while a new one takes over.
func (a *app) slow(w http.ResponseWriter, r *http.Request) {
	ms, err := intParam(r, "ms", 1000, maxSlowMS)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, _, _ := a.current(r)
	if !sleep(r.Context(), time.Duration(ms)*time.Millisecond) {
		return // nobody is listening any more
	}
	writeJSON(w, http.StatusOK, a.who(id))
}

// stream writes "chunk 0\n" ... "chunk N-1\n", flushing each, so a proxy
// that buffers responses is caught by the timing.
func (a *app) stream(w http.ResponseWriter, r *http.Request) {
	chunks, err := intParam(r, "chunks", 5, maxChunks)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ms, err := intParam(r, "ms", 200, maxSlowMS)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.streamChunks(w, r, chunks, time.Duration(ms)*time.Millisecond)
}

func (a *app) streamChunks(w http.ResponseWriter, r *http.Request, chunks int, gap time.Duration) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff") // browsers buffer to sniff otherwise
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	for i := range chunks {
		if i > 0 && !sleep(r.Context(), gap) {
			return
		}
		fmt.Fprintf(w, "chunk %d\n", i)
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// flushWriter pushes every write to the client at once.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// echo returns the request body as it arrives, so a proxy that buffers
// request bodies (or cannot do full duplex) is caught.
func (a *app) echo(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// HTTP/1.x otherwise stops reading the body once the response starts.
	_ = rc.EnableFullDuplex()
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.Copy(flushWriter{w, rc}, r.Body)
}
