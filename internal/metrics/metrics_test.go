package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/supervisor"
)

// metricsLister is the supervisor as the scrape sees it: generations whose
// usage comes from a real proxy, when there is one.
type metricsLister struct {
	mu    sync.Mutex
	gens  []fleet.Generation
	proxy *proxy.Proxy
	err   error
}

func (l *metricsLister) Generations(context.Context) ([]fleet.Generation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	out := make([]fleet.Generation, len(l.gens))
	for i, g := range l.gens {
		if l.proxy != nil {
			g.Usage = l.proxy.Usage(g.ID)
		}
		out[i] = g
	}
	return out, nil
}

func (l *metricsLister) set(gens ...fleet.Generation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gens = gens
}

// metricsCounters stands in for the proxy's counters.
type metricsCounters struct{ rejected, switched, refused int64 }

func (c metricsCounters) RejectedAffinity() int64 { return c.rejected }
func (c metricsCounters) Switched() int64         { return c.switched }
func (c metricsCounters) Refused() int64          { return c.refused }

// metricsGen is generation id served by backend.
func metricsGen(id int, backend *httptest.Server) *fleet.Route {
	return &fleet.Route{Generation: id, Revision: "r" + strconv.Itoa(id),
		Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: backend.Listener.Addr().String()}}}
}

// metricsApp is a worker: /login starts a session, /missing is a 404,
// /ws switches protocols and echoes lines, anything else is a 200.
func metricsApp(t testing.TB) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "SID", Value: "an-id-of-a-session-of-the-app-x", Path: "/"})
		case "/missing":
			http.NotFound(w, r)
			return
		case "/ws":
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			rw.Flush()
			io.Copy(c, rw)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// metricsFixture is a real proxy, observed by the metrics, in front of a
// real backend; scrapes read generations from lister.
type metricsFixture struct {
	m      *Metrics
	proxy  *proxy.Proxy
	lister *metricsLister
	front  *proxyFront
	scrape http.Handler
}

func newMetricsFixture(t testing.TB) *metricsFixture {
	t.Helper()
	f := &metricsFixture{m: New("dev")}
	h, err := proxy.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	f.proxy, err = proxy.New(proxy.Options{Hasher: h, SessionCookie: "SID",
		SwitchPath: "/.gateway/switch", Observer: f.m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.proxy.Publish(&fleet.Routes{Active: metricsGen(1, metricsApp(t))})
	f.lister = &metricsLister{proxy: f.proxy}
	f.lister.set(fleet.Generation{ID: 1, State: fleet.Active, Revision: "r1"})
	f.scrape = f.m.Handler(f.lister, f.proxy, func() fleet.PinStore { return fleet.PinStore{} }, slog.New(slog.DiscardHandler))
	f.front = serveProxy(t, f.proxy)
	return f
}

// get sends a GET with cookie (may be empty) and returns the status; the
// Observer runs after the client has the answer, so tests wait for it with
// waitRequests.
func (f *metricsFixture) get(t *testing.T, path, cookie string) (int, []*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.front.URL+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Cookies()
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// waitRequests waits until n requests have been counted.
func (f *metricsFixture) waitRequests(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs, err := f.m.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "gateway_requests_total" {
				for _, m := range mf.GetMetric() {
					got += m.GetCounter().GetValue()
				}
			}
		}
		if int(got) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests counted: got %v, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// scrapeText scrapes /metrics and returns the status and the text.
func (f *metricsFixture) scrapeText(t *testing.T) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.scrape.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Code, rec.Body.String()
}

// wantMetrics compares the named metrics with what the registry gathers.
func (f *metricsFixture) wantMetrics(t *testing.T, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(f.m.reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func cookieHeader(cs []*http.Cookie) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func TestMetricsThroughTraffic(t *testing.T) {
	f := newMetricsFixture(t)
	_, login := f.get(t, "/login", "")
	alice := cookieHeader(login)
	f.get(t, "/", alice)
	f.get(t, "/missing", alice)

	// An upgrade: generation 2 takes new sessions, alice stays on 1.
	f.proxy.Publish(&fleet.Routes{Active: metricsGen(2, metricsApp(t)), Detached: []*fleet.Route{metricsGen(1, metricsApp(t))}})
	f.lister.set(fleet.Generation{ID: 1, State: fleet.Detached, Revision: "r1"},
		fleet.Generation{ID: 2, State: fleet.Active, Revision: "r2"})
	f.get(t, "/", "")
	f.get(t, "/", "SID=someone-else; GATEWAY_AFFINITY=forged")
	f.waitRequests(t, 5)

	// An open WebSocket-like connection on generation 1.
	c, err := net.Dial("tcp", strings.TrimPrefix(f.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\nCookie: "+alice+"\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	f.waitRequests(t, 6)

	f.wantMetrics(t, `
# HELP gateway_requests_total Requests answered, by generation ("none": no generation was ready, 503) and status class.
# TYPE gateway_requests_total counter
gateway_requests_total{code="1xx",generation="1"} 1
gateway_requests_total{code="2xx",generation="1"} 2
gateway_requests_total{code="3xx",generation="1"} 0
gateway_requests_total{code="4xx",generation="1"} 1
gateway_requests_total{code="5xx",generation="1"} 0
gateway_requests_total{code="1xx",generation="2"} 0
gateway_requests_total{code="2xx",generation="2"} 2
gateway_requests_total{code="3xx",generation="2"} 0
gateway_requests_total{code="4xx",generation="2"} 0
gateway_requests_total{code="5xx",generation="2"} 0
# HELP gateway_pinned_sessions Sessions pinned to a generation.
# TYPE gateway_pinned_sessions gauge
gateway_pinned_sessions{generation="1"} 1
gateway_pinned_sessions{generation="2"} 0
# HELP gateway_upgraded_connections Open upgraded (WebSocket) connections to a generation.
# TYPE gateway_upgraded_connections gauge
gateway_upgraded_connections{generation="1"} 1
gateway_upgraded_connections{generation="2"} 0
# HELP gateway_generations Generations of the app, by state.
# TYPE gateway_generations gauge
gateway_generations{state="active"} 1
gateway_generations{state="canary"} 0
gateway_generations{state="detached"} 1
gateway_generations{state="retiring"} 0
gateway_generations{state="starting"} 0
# HELP gateway_generation_info Always 1 for each generation not yet retired; its revision and state are in the labels.
# TYPE gateway_generation_info gauge
gateway_generation_info{generation="1",revision="r1",state="detached"} 1
gateway_generation_info{generation="2",revision="r2",state="active"} 1
# HELP gateway_affinity_cookies_rejected_total Affinity cookies ignored: forged, garbled, stale, of an ended session, or naming a generation that is gone.
# TYPE gateway_affinity_cookies_rejected_total counter
gateway_affinity_cookies_rejected_total 1
`, "gateway_requests_total", "gateway_pinned_sessions", "gateway_upgraded_connections", "gateway_generations",
		"gateway_generation_info", "gateway_affinity_cookies_rejected_total")
	if n := testutil.CollectAndCount(f.m.latency); n != 2 {
		t.Errorf("latency histograms: got %d, want one per generation", n)
	}

	// Alice opts in to generation 2.
	c.Close()
	if code, _ := f.get(t, "/.gateway/switch", alice); code != http.StatusSeeOther {
		t.Fatalf("switch: got %d, want 303", code)
	}
	f.wantMetrics(t, `
# HELP gateway_sessions_switched_total Sessions moved to the active generation through sessions.switch_path.
# TYPE gateway_sessions_switched_total counter
gateway_sessions_switched_total 1
# HELP gateway_pinned_sessions Sessions pinned to a generation.
# TYPE gateway_pinned_sessions gauge
gateway_pinned_sessions{generation="1"} 0
gateway_pinned_sessions{generation="2"} 0
`, "gateway_sessions_switched_total", "gateway_pinned_sessions")

	// No generation ready: a 503, counted under "none".
	f.proxy.Publish(&fleet.Routes{})
	if code, _ := f.get(t, "/", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("without routes: got %d, want 503", code)
	}
	f.waitRequests(t, 7)
	if got := testutil.ToFloat64(f.m.requests.WithLabelValues("none", "5xx")); got != 1 {
		t.Errorf(`gateway_requests_total{generation="none",code="5xx"}: got %v, want 1`, got)
	}

	// An ambiguous request is refused before routing, and counted.
	raw, err := net.Dial("tcp", strings.TrimPrefix(f.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	io.WriteString(raw, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(raw), nil); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("TE and CL: got %v, %v; want 400", resp, err)
	}
	f.wantMetrics(t, `
# HELP gateway_requests_refused_total Requests refused before reaching a worker: malformed or ambiguous heads or chunked bodies, heads too large.
# TYPE gateway_requests_refused_total counter
gateway_requests_refused_total 1
`, "gateway_requests_refused_total")
}

func TestMetricsLifecycle(t *testing.T) {
	f := newMetricsFixture(t)
	f.m.forgetAfter = 20 * time.Millisecond
	ctx := context.Background()
	f.m.Upgrade(ctx, nil)
	f.m.Upgrade(ctx, errors.New("generation 3 failed to start: readiness check timed out"))
	f.m.Upgrade(ctx, errors.New("some failure"))
	f.m.Upgrade(ctx, fleet.ErrInvalidState) // a refused detach: nothing started
	gone, cancel := context.WithCancel(ctx)
	cancel()
	f.m.Upgrade(gone, context.Canceled) // the caller stopped waiting: outcome unknown
	var nilMetrics *Metrics
	nilMetrics.Upgrade(ctx, nil)

	f.m.Request(1, 200, time.Millisecond)
	f.m.SessionsLost(1, supervisor.LostDrainDeadline, 3)
	f.m.SessionsLost(2, supervisor.LostCrash, 1)
	f.m.GenerationRetired(1, 90*time.Second, true)

	f.wantMetrics(t, `
# HELP gateway_upgrades_total Upgrades (and detaches) asked for, by result: "ok" once the new generation was active, "failed" when it could not start or the upgrade was refused.
# TYPE gateway_upgrades_total counter
gateway_upgrades_total{result="failed"} 2
gateway_upgrades_total{result="ok"} 1
# HELP gateway_rollbacks_total Rollbacks: a detached generation made active again.
# TYPE gateway_rollbacks_total counter
gateway_rollbacks_total 0
# HELP gateway_sessions_lost_total Sessions that ended without their users' doing, by cause.
# TYPE gateway_sessions_lost_total counter
gateway_sessions_lost_total{cause="canary-abort"} 0
gateway_sessions_lost_total{cause="crash"} 1
gateway_sessions_lost_total{cause="drain-deadline"} 3
gateway_sessions_lost_total{cause="forced"} 0
gateway_sessions_lost_total{cause="generation-limit"} 0
gateway_sessions_lost_total{cause="lost-generation"} 0
gateway_sessions_lost_total{cause="restart"} 0
gateway_sessions_lost_total{cause="rollback"} 0
`, "gateway_upgrades_total", "gateway_sessions_lost_total")
	if got := testutil.CollectAndCount(f.m.drains); got != 2 {
		t.Errorf("drain histograms: got %d, want forced=true and forced=false", got)
	}
	_, out := f.scrapeText(t)
	for _, want := range []string{`gateway_drain_duration_seconds_count{forced="true"} 1`, `gateway_drain_duration_seconds_sum{forced="true"} 90`,
		`gateway_drain_duration_seconds_bucket{forced="true",le="64"} 0`, `gateway_drain_duration_seconds_bucket{forced="true",le="256"} 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("drain histogram lacks %q:\n%s", want, out)
		}
	}

	// The retired generation's request series go after forgetAfter.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.CollectAndCount(f.m.requests) != 0 || testutil.CollectAndCount(f.m.latency) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("series of retired generation 1: got %d request and %d latency series, want none",
				testutil.CollectAndCount(f.m.requests), testutil.CollectAndCount(f.m.latency))
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.m.Request(2, 200, time.Millisecond)
	if got := testutil.ToFloat64(f.m.requests.WithLabelValues("2", "2xx")); got != 1 {
		t.Errorf("generation 2 after 1 was forgotten: got %v, want 1", got)
	}
}

// Every metric the gateway serves follows the Prometheus naming
// conventions (promlint): the gateway's own, and the Go runtime's and the
// process's that come with them.
func TestMetricsLint(t *testing.T) {
	f := newMetricsFixture(t)
	// Every series exists at least once.
	f.m.Request(1, 200, time.Millisecond)
	f.m.Request(1, 799, time.Millisecond)
	f.m.Upgrade(context.Background(), nil)
	f.m.GenerationRetired(1, time.Minute, false)
	f.m.SessionsLost(1, supervisor.LostForced, 1)
	f.m.GenerationLost(1)
	f.get(t, "/", "")
	problems, err := testutil.GatherAndLint(f.m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	mfs, err := f.m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, want := range []string{
		"gateway_requests_total", "gateway_request_duration_seconds", "gateway_pinned_sessions",
		"gateway_generations", "gateway_generation_info", "gateway_upgrades_total", "gateway_drain_duration_seconds",
		"gateway_sessions_lost_total", "gateway_affinity_cookies_rejected_total", "gateway_sessions_switched_total",
		"gateway_requests_refused_total",
		"gateway_upgraded_connections", "gateway_requests_in_flight", "gateway_build_info",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !got[want] {
			t.Errorf("metric %s missing from the registry", want)
		}
	}
}

// The /metrics handler serves the text format, and a supervisor that does
// not answer makes the scrape report the error, not fail or hang.
func TestMetricsHandler(t *testing.T) {
	f := newMetricsFixture(t)
	f.get(t, "/", "")
	f.waitRequests(t, 1)
	code, body := f.scrapeText(t)
	if code != 200 || !strings.Contains(body, `gateway_requests_total{code="2xx",generation="1"} 1`) ||
		!strings.Contains(body, `gateway_generations{state="active"} 1`) {
		t.Fatalf("scrape: got %d\n%s", code, body)
	}
	f.lister.mu.Lock()
	f.lister.err = context.DeadlineExceeded
	f.lister.mu.Unlock()
	code, body = f.scrapeText(t)
	if code != 200 || !strings.Contains(body, `gateway_requests_total{code="2xx",generation="1"} 1`) {
		t.Fatalf("scrape with the supervisor not answering: got %d, want 200 with the other metrics\n%s", code, body)
	}
	_, body = f.scrapeText(t) // the error is counted after the scrape that saw it
	if !strings.Contains(body, `promhttp_metric_handler_errors_total{cause="gathering"} 1`) {
		t.Errorf("scrape with the supervisor not answering: want the gathering error counted\n%s", body)
	}
}

// Observing a request allocates nothing once its generation has been seen.
func TestMetricsRequestDoesNotAllocate(t *testing.T) {
	m := New("dev")
	m.Request(1, 200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.Request(1, 302, 3*time.Millisecond) }); n != 0 {
		t.Fatalf("Request: got %v allocations, want 0", n)
	}
}

func BenchmarkMetricsRequest(b *testing.B) {
	m := New("dev")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request(1, 200, 3*time.Millisecond)
		}
	})
}

// BenchmarkProxyPinnedMetrics is proxy's BenchmarkProxyPinned with the
// gateway's real Observer: a logged-in browser on a keep-alive connection,
// client → proxy → backend over loopback. Compare allocs/op with
// BenchmarkProxyPinnedNoMetrics (the same without an Observer).
func BenchmarkProxyPinnedMetrics(b *testing.B)   { benchMetricsPinned(b, true) }
func BenchmarkProxyPinnedNoMetrics(b *testing.B) { benchMetricsPinned(b, false) }

func benchMetricsPinned(b *testing.B, observe bool) {
	backend := metricsApp(b)
	h, _ := proxy.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	o := proxy.Options{Hasher: h, SessionCookie: "SID", Logger: slog.New(slog.DiscardHandler)}
	if observe {
		o.Observer = New("dev")
	}
	p, err := proxy.New(o)
	if err != nil {
		b.Fatal(err)
	}
	p.Publish(&fleet.Routes{Active: metricsGen(1, backend)})
	front := serveProxy(b, p)
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	resp, err := c.Get(front.URL + "/login")
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", front.URL+"/whoami", nil)
	req.Header.Set("Cookie", cookieHeader(resp.Cookies()))
	get := func() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get()
	if p.Usage(1).Sessions != 1 {
		b.Fatal("the benchmark session is not pinned")
	}
	b.ReportAllocs()
	for b.Loop() {
		get()
	}
}

// serveProxy serves p on a loopback port as gatewayd does, until the test
// ends.
func serveProxy(tb testing.TB, p *proxy.Proxy) *proxyFront {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []net.Listener{l}, proxy.ServerOptions{}) }()
	tb.Cleanup(func() { cancel(); <-done })
	return &proxyFront{URL: "http://" + l.Addr().String()}
}

type proxyFront struct{ URL string }

// A revision that is not UTF-8 (the supervisor refuses them, but a label
// must never break the scrape) is shown with replacement characters, and
// the generation's series are all there.
func TestMetricsRevisionNotUTF8(t *testing.T) {
	l := &metricsLister{}
	l.set(fleet.Generation{ID: 3, State: fleet.Active, Revision: "rel\xff"})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newScrapeCollector(l, &metricsCounters{}, time.Second))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "gateway_generation_info" {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "revision" && lp.GetValue() == "rel\uFFFD" {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Fatalf("no gateway_generation_info with revision \"rel\\uFFFD\" in %v", mfs)
	}
}

// The figures a canary is judged by count what the proxy reports, per
// generation.
func TestMetricsFigures(t *testing.T) {
	m := New("dev")
	for i := 0; i < 98; i++ {
		m.Request(2, 200, time.Millisecond)
	}
	m.Request(2, 502, 2*time.Second)
	m.Request(2, 599, 2*time.Second)
	m.Request(3, 404, time.Millisecond)
	f := m.Figures(2).Summary()
	if f.Requests != 100 || f.Errors != 2 || f.P99 < 2*time.Second || f.P99 > 2250*time.Millisecond {
		t.Errorf("generation 2: %+v, want 100 requests, 2 errors, p99 2s", f)
	}
	if f := m.Figures(3).Summary(); f.Requests != 1 || f.Errors != 0 {
		t.Errorf("generation 3: %+v", f)
	}
	if f := m.Figures(4); f.Requests != 0 {
		t.Errorf("a generation never seen: %+v", f.Summary())
	}
}
