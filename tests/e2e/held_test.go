package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestWebSocketKeepsGenerationAliveUntilClosed(t *testing.T) {
	g := startGateway(t, options{})
	ws := dialWS(t, g, "")
	ws.echo(t, "before")
	g.point("rel2")
	g.upgrade()
	// Generation 1 has no session, only the open WebSocket: it must stay.
	// Several supervisor ticks pass while it is checked.
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		if got := g.generations(); got[1] != "detached" {
			t.Fatalf("generation 1 with an open WebSocket: got %v, want it detached and alive", got)
		}
	}
	ws.echo(t, "after the upgrade")
	ws.c.Close()
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 5*time.Second)
}

// When the maximum drain time runs out, the generation is forced out: its
// sessions are dropped and its held connections closed.
func TestMaxDrainTimeForcesRetirement(t *testing.T) {
	g := startGateway(t, options{maxDrain: "1s", window: "500ms"})
	a := g.browser()
	a.Login("alice")
	ws := dialWS(t, g, "SID="+a.Cookie("SID"))
	g.point("rel2")
	g.upgrade()
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 10*time.Second)
	if !strings.Contains(g.log.last(`msg="retiring generation"`), "forced=true sessions_lost=1") {
		t.Fatalf("retire report: got %q, want a forced retire with 1 session lost", g.log.last(`retiring generation`))
	}
	ws.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ws.recv(); err == nil {
		t.Fatal("the WebSocket of a forced-out generation is still open")
	}
	if w := a.Who(); w.Generation != "2" {
		t.Fatalf("alice after the forced retire: got %+v, want generation 2", w)
	}
}

func TestForgedAffinityCookiesAreIgnored(t *testing.T) {
	g := startGateway(t, options{})
	a := g.browser()
	a.Login("alice")
	sid := a.Cookie("SID")
	g.point("rel2")
	g.upgrade()
	good := a.Cookie("GATEWAY_AFFINITY")
	for name, value := range map[string]string{
		"garbled":  "not-a-cookie",
		"forged":   strings.Repeat("A", len(good)),
		"tampered": good[:5] + flipChar(good[5]) + good[6:],
		"empty":    "",
	} {
		t.Run(name, func(t *testing.T) {
			// Someone else's session id with alice's cookie, or any session
			// with a broken cookie: never an error, always the active generation.
			req := mustRequest("GET", g.url+"/whoami")
			req.Header.Set("Cookie", "SID=not-"+sid+"; GATEWAY_AFFINITY="+value)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			w := g.browser().Do(req.Clone(req.Context()))
			if w.Generation != "2" {
				t.Fatalf("routed to generation %s, want the active 2", w.Generation)
			}
		})
	}
	// A valid cookie bound to alice's session, on another session id.
	req := mustRequest("GET", g.url+"/whoami")
	req.Header.Set("Cookie", "SID=someone-else; GATEWAY_AFFINITY="+good)
	if w := g.browser().Do(req); w.Generation != "2" {
		t.Fatalf("alice's affinity cookie on another session: got generation %s, want 2", w.Generation)
	}
}

func flipChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func mustRequest(method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	return req
}
