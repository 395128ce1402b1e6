package systemd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// session is one login made by logins: its session id and who answered.
type session struct {
	sid string
	who gwtest.Whoami
}

// logins logs in n users (named prefix0…) on conns keep-alive connections,
// with no cookie jar, and returns their session ids and workers.
func logins(t *testing.T, base, prefix string, n int) []session {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	out := make([]session, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for c := range 16 {
		wg.Go(func() {
			for i := c; i < n; i += 16 {
				s, err := login(client, base, prefix+strconv.Itoa(i))
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("logging in: %v", failed)
	}
	return out
}

func login(client *http.Client, base, user string) (session, error) {
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"user": {user}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return session{}, err
	}
	defer resp.Body.Close()
	var s session
	for _, c := range resp.Cookies() {
		if c.Name == "SID" {
			s.sid = c.Value
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&s.who); err != nil || resp.StatusCode != 200 || s.sid == "" {
		return session{}, fmt.Errorf("login %s: status %d, sid %q, %v", user, resp.StatusCode, s.sid, err)
	}
	return s, nil
}

// whoWithSIDOnly asks who a session is, sending its session cookie and no
// affinity cookie: only a pin the gateway holds can route it.
func whoWithSIDOnly(t *testing.T, base, sid string) gwtest.Whoami {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/whoami", nil)
	req.Header.Set("Cookie", "SID="+sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var w gwtest.Whoami
	json.NewDecoder(resp.Body).Decode(&w)
	return w
}

// Many sessions on two generations, then a restart of the gateway: the
// next gatewayd loads every pin from its pin store, re-adopts both scopes,
// and routes each session by its pin alone (the requests carry no affinity
// cookie). GATEWAY_TEST_PINS sets how many (default 20,000).
func TestRestartKeepsManyPins(t *testing.T) {
	n := 20000
	if v := os.Getenv("GATEWAY_TEST_PINS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	g := startGateway(t, sdOptions{instances: 2})
	old := logins(t, g.url, "old", n/2)
	g.rel.Point("rel2")
	if msg := g.upgrade(); msg != "" {
		t.Fatalf("upgrade failed: %s", msg)
	}
	young := logins(t, g.url, "new", n-n/2)
	g.waitScopes(5*time.Second, "gateway-gen1.scope", "gateway-gen2.scope")
	pid := g.mainPID()
	start := time.Now()
	g.m.MustSystemctl(t, "restart", "gateway.service")
	if !gwtest.Poll(30*time.Second, func() bool {
		return g.mainPID() != pid && gwtest.Count(g.log(), "re-adopted the generations") >= 1
	}) {
		t.Fatal("no new gatewayd re-adopted the generations within 30s")
	}
	t.Logf("restart with %d pins: re-adopted after %v", n, time.Since(start))
	loaded := gwLast(g, "loaded the pins of the previous run")
	adopted := gwLast(g, "re-adopted the generations")
	if !strings.Contains(loaded, fmt.Sprintf("sessions=%d", n)) || !strings.Contains(adopted, fmt.Sprintf("sessions=%d", n)) {
		t.Fatalf("after the restart:\n%s\n%s\nwant %d sessions loaded and kept", loaded, adopted, n)
	}
	for i := 0; i < n/2; i += max(n/400, 1) {
		for _, s := range []session{old[i], young[i]} {
			if w := whoWithSIDOnly(t, g.url, s.sid); w.PID != s.who.PID || w.User != s.who.User {
				t.Fatalf("session of %s (worker %d, generation %s): answered by %+v", s.who.User, s.who.PID, s.who.Generation, w)
			}
		}
	}
}
