package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// scrape reads /metrics from the admin listener.
func (g *gateway) scrape() string {
	g.t.Helper()
	resp, err := http.Get(g.admin + "metrics")
	if err != nil {
		g.t.Fatalf("scraping /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		g.t.Fatalf("GET /metrics: status %d\n%s", resp.StatusCode, body)
	}
	return string(body)
}

// The metrics of the real daemon, wired as serve.go wires them, through an
// upgrade, a switch and a retirement.
func TestMetricsOfAnUpgrade(t *testing.T) {
	g := startGateway(t, options{admin: true, switchPath: "/.gateway/switch"})
	a := g.browser()
	a.Login("alice")
	g.point("rel2")
	if msg := g.upgrade(); msg != "" {
		t.Fatalf("upgrade failed: %s", msg)
	}
	a.Who()
	if m := g.scrape(); !strings.Contains(m, `gateway_pinned_sessions{generation="1"} 1`) ||
		!strings.Contains(m, `gateway_generations{state="detached"} 1`) ||
		!strings.Contains(m, `gateway_generation_info{generation="1",revision="rel1",state="detached"} 1`) {
		t.Fatalf("metrics after the upgrade: want alice pinned to detached generation 1\n%s", m)
	}
	resp, err := a.HTTP.Get(g.url + "/.gateway/switch")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	g.waitLog(`msg="generation retired" component=supervisor generation=1`, 1, 5*time.Second)
	a.Who()

	want := []string{
		`gateway_upgrades_total{result="ok"} 1`,
		`gateway_upgrades_total{result="failed"} 0`,
		`gateway_sessions_switched_total 1`,
		`gateway_generations{state="active"} 1`,
		`gateway_generations{state="detached"} 0`,
		`gateway_drain_duration_seconds_count{forced="false"} 1`,
		`gateway_drain_duration_seconds_count{forced="true"} 0`,
		`gateway_sessions_lost_total{cause="forced"} 0`,
		`gateway_requests_total{code="2xx",generation="1"} 2`, // login, whoami
		`gateway_pinned_sessions{generation="2"} 0`,
		`gateway_build_info{version=`,
	}
	var m string
	gwtest.Poll(5*time.Second, func() bool { // the last whoami is counted just after its answer
		m = g.scrape()
		return strings.Contains(m, `gateway_requests_total{code="2xx",generation="2"} 1`)
	})
	for _, w := range append(want, `gateway_requests_total{code="2xx",generation="2"} 1`) {
		if !strings.Contains(m, w) {
			t.Errorf("metrics lack %q", w)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", m)
	}
}
