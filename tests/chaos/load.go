// Package chaos is the gateway's own load tool for fault runs: a bounded
// crowd of virtual users of the sample app (examples/notes) who log in,
// read, log out and log in again, each checking every answer against the
// session it holds, while a driver kills workers and gateways and asks for
// upgrades. The driver reports each kill, so that a failure or a lost
// session can be told apart from a defect: only what a kill explains is
// allowed. tests/systemd/chaos_test.go drives it; docs/reliability.md has
// the runs.
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Load is the crowd. Set the fields, then Run.
type Load struct {
	URL   string        // the gateway, http://host:port
	Users int           // virtual users, each one session at a time
	Reads int           // reads per login before the logout
	Think time.Duration // pause between a user's requests
	// LimitRetired says whether the gateway retired this generation by
	// force under drain.max_generations: its sessions end by design.
	// Optional; without it such an end counts as a misroute.
	LimitRetired func(generation string) bool

	kills kills
	fig   figures
}

// whoami is the sample app's account of a request.
type whoami struct {
	Generation string `json:"generation"`
	PID        int    `json:"pid"`
	User       string `json:"user"`
	Session    bool   `json:"session"`
}

// Run runs the users until ctx ends and returns the figures.
func (l *Load) Run(ctx context.Context) Figures {
	tr := &http.Transport{MaxIdleConnsPerHost: l.Users, IdleConnTimeout: 30 * time.Second, DialContext: dialStamped}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := range l.Users {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			u := &user{l: l, c: &http.Client{Transport: tr, Jar: jar, Timeout: 15 * time.Second}}
			for n := 0; ctx.Err() == nil; n++ {
				u.session(ctx, fmt.Sprintf("vu%d-%d", i, n))
			}
		})
	}
	wg.Wait()
	return l.fig.snapshot()
}

// WorkerKilled tells the load that the worker with this pid is being
// killed now: requests on it may fail and its sessions may be lost.
func (l *Load) WorkerKilled(pid int) { l.kills.worker(pid) }

// GatewayKilled tells the load that gatewayd is being killed now: requests
// in flight on its connections may fail.
func (l *Load) GatewayKilled() { l.kills.gateway() }

type user struct {
	l *Load
	c *http.Client
}

// session is one login, its reads and its logout.
func (u *user) session(ctx context.Context, name string) {
	start := time.Now()
	w, err := u.do(ctx, "POST", "/login", url.Values{"user": {name}})
	if err != nil {
		u.l.failed(ctx, start, whoami{}, "login "+name, err)
		return
	}
	u.l.fig.add(&u.l.fig.logins)
	for range u.l.Reads {
		if !u.pause(ctx) {
			return
		}
		start := time.Now()
		got, err := u.do(ctx, "GET", "/whoami", nil)
		if err != nil {
			u.l.failed(ctx, start, w, "read of "+name, err)
			if u.l.kills.workerDead(w.PID) {
				u.l.fig.add(&u.l.fig.lostKilled)
				return
			}
			continue
		}
		if got.PID == w.PID && got.User == name {
			continue
		}
		if !u.l.sessionEnd(name, w, got) {
			return
		}
	}
	if u.pause(ctx) {
		start := time.Now()
		if _, err := u.do(ctx, "POST", "/logout", nil); err != nil {
			u.l.failed(ctx, start, w, "logout of "+name, err)
		}
	}
}

func (u *user) pause(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(u.l.Think):
		return true
	}
}

// do sends one request as the app's JSON client; an answer other than 200
// with a whoami is an error.
func (u *user) do(ctx context.Context, method, path string, form url.Values) (whoami, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequestWithContext(ctx, method, u.l.URL+path, body)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var dialed time.Time
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if c, ok := i.Conn.(*stampedConn); ok {
			dialed = c.dialed
		}
	}}))
	u.l.fig.add(&u.l.fig.requests)
	resp, err := u.c.Do(req)
	if err != nil {
		return whoami{}, &connError{err: err, dialed: dialed}
	}
	defer resp.Body.Close()
	var w whoami
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return w, fmt.Errorf("status %d: %q", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		return w, fmt.Errorf("decoding whoami: %w", err)
	}
	return w, nil
}

// sessionEnd judges an answer from another worker or for another user than
// the login's: a lost session if its worker was killed, else a misroute
// (or, on its own worker, a session the app forgot). It says whether the
// user may go on reading.
func (l *Load) sessionEnd(name string, login, got whoami) bool {
	switch {
	case l.kills.workerDead(login.PID):
		l.fig.add(&l.fig.lostKilled)
	case !got.Session && l.limitRetired(login.Generation):
		l.fig.add(&l.fig.lostLimit)
	case got.PID == login.PID && !got.Session:
		l.fig.note(&l.fig.lostOther, fmt.Sprintf("%s: its worker %d (generation %s) answered without the session", name, login.PID, login.Generation))
	default:
		l.fig.note(&l.fig.misroutes, fmt.Sprintf("%s logged in on worker %d (generation %s), answered by worker %d (generation %s) as %q",
			name, login.PID, login.Generation, got.PID, got.Generation, got.User))
	}
	return false
}

func (l *Load) limitRetired(generation string) bool {
	return l.LimitRetired != nil && generation != "" && l.LimitRetired(generation)
}

// failed counts a failed request and says why it was allowed, if it was:
// its worker was killed, or its generation was retired by force, or it was
// in flight when gatewayd was killed, or (a login, whose worker is not
// known) a worker was killed just before.
func (l *Load) failed(ctx context.Context, start time.Time, login whoami, what string, err error) {
	if ctx.Err() != nil {
		return // the run ended; not a failure of the gateway
	}
	end := time.Now()
	transport := !strings.HasPrefix(err.Error(), "status ")
	pid := login.PID
	switch {
	case pid != 0 && l.kills.workerDead(pid):
		l.fig.add(&l.fig.failedKilledWorker)
	case pid == 0 && l.kills.workerKilledWithin(start.Add(-time.Second), end):
		l.fig.add(&l.fig.failedKilledWorker)
	case l.limitRetired(login.Generation):
		l.fig.add(&l.fig.failedLimit)
	case transport && l.kills.gatewayKilledWithin(start, end), transport && l.kills.gatewayKilledOn(err, end):
		l.fig.add(&l.fig.failedGatewayKill)
	default:
		l.fig.note(&l.fig.failedOther, fmt.Sprintf("%s: %v", what, err))
	}
}

// stampedConn is a client connection and when it was dialed: a request
// that fails on a connection dialed before a gateway kill may have been
// sent to the killed gatewayd, however long after the kill it was sent (a
// keep-alive connection the client had not yet seen closed).
type stampedConn struct {
	net.Conn
	dialed time.Time
}

func dialStamped(ctx context.Context, network, addr string) (net.Conn, error) {
	dialed := time.Now()
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &stampedConn{Conn: c, dialed: dialed}, nil
}

// connError is a request's transport error and when its connection was
// dialed (zero if it got none).
type connError struct {
	err    error
	dialed time.Time
}

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// gatewayKilledOn: the request failed on a connection dialed before a
// gateway kill that came before the failure.
func (k *kills) gatewayKilledOn(err error, end time.Time) bool {
	var ce *connError
	if !errors.As(err, &ce) || ce.dialed.IsZero() {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, at := range k.gateways {
		if at.After(ce.dialed) && !at.After(end) {
			return true
		}
	}
	return false
}
