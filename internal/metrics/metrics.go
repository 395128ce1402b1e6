// Package metrics is the gateway's Prometheus metrics: counters and
// histograms fed by the proxy's and the supervisor's observers, and what
// they can tell at any time read when scraped. docs/metrics.md lists them.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/supervisor"
)

// Metrics are the gateway's Prometheus metrics, in a registry of their own
// (the admin console serves them at /metrics). Counters and histograms are
// fed by the proxy's and the supervisor's observers; what the proxy and the
// supervisor can tell at any time (generations, sessions, connections) is
// read when scraped, by scrapeCollector.
//
// Per-generation series go away forgetAfter after their generation retired
// or was lost, so that the number of series follows the number of live
// generations, not the number of upgrades since the gateway started.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec   // generation, code
	latency     *prometheus.HistogramVec // generation
	upgrades    *prometheus.CounterVec   // result
	drains      *prometheus.HistogramVec // forced
	lost        *prometheus.CounterVec   // cause
	rollbacks   prometheus.Counter
	canaries    *prometheus.CounterVec
	forgetAfter time.Duration

	mu   sync.Mutex                         // serialises changes of gens
	gens atomic.Pointer[map[int]*genSeries] // copied on change: read on every request
}

// genSeries are one generation's request series, resolved once so that
// observing a request is a map lookup and two atomic adds.
type genSeries struct {
	codes   [6]prometheus.Counter // by status/100; 0 is unused
	latency prometheus.Observer
	figures figures
}

// figures are a generation's fleet.Figures as they are counted: what a
// canary is judged by and the console shows. Prometheus's own series
// cannot serve: reading them back is a scrape, and their buckets are too
// coarse for a p99 worth comparing.
//
// A request costs one atomic add, two for a 5xx: the requests are the sum
// of the latency buckets, not a counter of their own. Measured with
// BenchmarkMetricsRequest (two cores observing one generation, the worst
// case): 0.27 µs a request without figures, 0.33 with, 0.42 with a
// request counter too.
type figures struct {
	errors  atomic.Uint64
	latency [fleet.LatencyBuckets]atomic.Uint64
}

func (f *figures) observe(status int, d time.Duration) {
	if status >= 500 && status <= 599 {
		f.errors.Add(1)
	}
	f.latency[fleet.LatencyBucket(d)].Add(1)
}

// read is not one instant's reading, as requests go on counting while it
// reads; each count is, and no count it reads goes back.
func (f *figures) read() fleet.Figures {
	out := fleet.Figures{Errors: f.errors.Load()}
	for i := range f.latency {
		out.Latency[i] = f.latency[i].Load()
		out.Requests += out.Latency[i]
	}
	return out
}

var (
	_ proxy.Observer      = (*Metrics)(nil)
	_ supervisor.Observer = (*Metrics)(nil)
)

const metricsNamespace = "gateway"

// New is the metrics of a gateway of this version (gateway_build_info).
func New(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "requests_total",
			Help: `Requests answered, by generation ("none": no generation was ready, 503) and status class.`,
		}, []string{"generation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "request_duration_seconds",
			Help:    "Time from receiving a request to the end of its answer (for a protocol switch: to the switch), by generation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"generation"}),
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "upgrades_total",
			Help: `Upgrades (and detaches) asked for, by result: "ok" once the new generation was active, "failed" when it could not start or the upgrade was refused.`,
		}, []string{"result"}),
		drains: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "drain_duration_seconds",
			Help: `Time from a generation's detach to its retirement, by whether it was forced ("true": sessions or connections were cut off).`,
			// 1s to about 18h: drains last as long as sessions do.
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"forced"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "sessions_lost_total",
			Help: "Sessions that ended without their users' doing, by cause.",
		}, []string{"cause"}),
		rollbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "rollbacks_total",
			Help: "Rollbacks: a detached generation made active again.",
		}),
		canaries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "canaries_ended_total",
			Help: "Canary trials ended, by outcome (promoted or aborted).",
		}, []string{"outcome"}),
		forgetAfter: 10 * time.Minute,
	}
	m.gens.Store(&map[int]*genSeries{})
	for _, r := range []string{"ok", "failed"} {
		m.upgrades.WithLabelValues(r)
	}
	for _, f := range []string{"true", "false"} {
		m.drains.WithLabelValues(f)
	}
	for _, c := range supervisor.LossCauses {
		m.lost.WithLabelValues(string(c))
	}
	for _, promoted := range []bool{true, false} {
		m.canaries.WithLabelValues(canaryOutcome(promoted))
	}
	m.reg.MustRegister(m.requests, m.latency, m.upgrades, m.drains, m.lost, m.rollbacks, m.canaries,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Name: "build_info",
			Help:        "Always 1; the gateway's version is in the label.",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }))
	return m
}

// generationLabel is the value of the generation label.
func generationLabel(gen int) string {
	if gen <= 0 {
		return "none"
	}
	return strconv.Itoa(gen)
}

var codeClasses = [...]string{1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}

// Request is the proxy's Observer: it runs on every request and does not
// allocate once the generation has been seen.
func (m *Metrics) Request(gen, status int, d time.Duration) {
	g := m.series(gen)
	if c := status / 100; c >= 1 && c <= 5 {
		g.codes[c].Inc()
	} else {
		m.requests.WithLabelValues(generationLabel(gen), "other").Inc()
	}
	g.latency.Observe(d.Seconds())
	g.figures.observe(status, d)
}

// Figures is what gen has answered since the gateway started, or since
// its series were first made; zero for a generation it has not seen.
func (m *Metrics) Figures(gen int) fleet.Figures {
	if g := (*m.gens.Load())[gen]; g != nil {
		return g.figures.read()
	}
	return fleet.Figures{}
}

func (m *Metrics) series(gen int) *genSeries {
	if g := (*m.gens.Load())[gen]; g != nil {
		return g
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.gens.Load()
	if g := old[gen]; g != nil {
		return g
	}
	label := generationLabel(gen)
	g := &genSeries{latency: m.latency.WithLabelValues(label)}
	for c := 1; c < len(g.codes); c++ {
		g.codes[c] = m.requests.WithLabelValues(label, codeClasses[c])
	}
	next := make(map[int]*genSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[gen] = g
	m.gens.Store(&next)
	return g
}

// forget removes a generation's request series.
func (m *Metrics) forget(gen int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.gens.Load()
	next := make(map[int]*genSeries, len(old))
	for k, v := range old {
		if k != gen {
			next[k] = v
		}
	}
	m.gens.Store(&next)
	label := prometheus.Labels{"generation": generationLabel(gen)}
	m.requests.DeletePartialMatch(label)
	m.latency.DeletePartialMatch(label)
}

// forgetLater forgets gen's series after forgetAfter, so that scrapes in
// between still see their last values.
func (m *Metrics) forgetLater(gen int) {
	time.AfterFunc(m.forgetAfter, func() { m.forget(gen) })
}

// GenerationRetired is part of the supervisor's Observer.
func (m *Metrics) GenerationRetired(gen int, drained time.Duration, forced bool) {
	m.drains.WithLabelValues(strconv.FormatBool(forced)).Observe(drained.Seconds())
	m.forgetLater(gen)
}

// RolledBack is part of the supervisor's Observer.
func (m *Metrics) RolledBack(from, to int) { m.rollbacks.Inc() }

// CanaryEnded is part of the supervisor's Observer.
func (m *Metrics) CanaryEnded(gen int, promoted bool) {
	m.canaries.WithLabelValues(canaryOutcome(promoted)).Inc()
}

func canaryOutcome(promoted bool) string {
	if promoted {
		return "promoted"
	}
	return "aborted"
}

// GenerationLost is part of the supervisor's Observer.
func (m *Metrics) GenerationLost(gen int) { m.forgetLater(gen) }

// SessionsLost is part of the supervisor's Observer.
func (m *Metrics) SessionsLost(_ int, cause supervisor.LossCause, n int) {
	m.lost.WithLabelValues(string(cause)).Add(float64(n))
}

// Upgrade counts the outcome of an upgrade (or a detach, which starts a
// replacement as an upgrade does). A caller that stopped waiting (its ctx
// ended) does not know the outcome, and neither do the metrics: not
// counted. A detach refused before anything started (no such generation,
// not the active one) is not an upgrade: not counted either. Nil-safe.
func (m *Metrics) Upgrade(ctx context.Context, err error) {
	switch {
	case m == nil:
	case err == nil:
		m.upgrades.WithLabelValues("ok").Inc()
	case ctx.Err() != nil, errors.Is(err, fleet.ErrNoSuchGeneration), errors.Is(err, fleet.ErrInvalidState):
	default:
		m.upgrades.WithLabelValues("failed").Inc()
	}
}

// Handler registers the metrics read at scrape time from sup, p and the
// pin store's status, and returns the handler for /metrics. Call it once.
func (m *Metrics) Handler(sup GenerationLister, p ProxyCounters, pins func() fleet.PinStore, log *slog.Logger) http.Handler {
	m.reg.MustRegister(newScrapeCollector(sup, p, 5*time.Second), newPinStoreCollector(pins))
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	}))
}

// GenerationLister is what the scrape needs of the supervisor.
type GenerationLister interface {
	Generations(ctx context.Context) ([]fleet.Generation, error)
}

// ProxyCounters is what the scrape needs of the proxy.
type ProxyCounters interface {
	RejectedAffinity() int64
	Switched() int64
	Refused() int64
}

var (
	_ GenerationLister = (*supervisor.Supervisor)(nil)
	_ ProxyCounters    = (*proxy.Proxy)(nil)
)

// scrapeCollector reads the generations and the proxy's counters when
// scraped. The supervisor answers from its loop; timeout bounds the wait
// for it (a stuck loop makes the scrape report an error, not hang).
type scrapeCollector struct {
	sup     GenerationLister
	proxy   ProxyCounters
	timeout time.Duration

	generations, info, sessions, inFlight, upgraded, rejected, switched, refused *prometheus.Desc
}

func newScrapeCollector(sup GenerationLister, p ProxyCounters, timeout time.Duration) *scrapeCollector {
	name := func(n string) string { return prometheus.BuildFQName(metricsNamespace, "", n) }
	gen := []string{"generation"}
	return &scrapeCollector{sup: sup, proxy: p, timeout: timeout,
		generations: prometheus.NewDesc(name("generations"),
			"Generations of the app, by state.", []string{"state"}, nil),
		info: prometheus.NewDesc(name("generation_info"),
			"Always 1 for each generation not yet retired; its revision and state are in the labels.",
			[]string{"generation", "revision", "state"}, nil),
		sessions: prometheus.NewDesc(name("pinned_sessions"),
			"Sessions pinned to a generation.", gen, nil),
		inFlight: prometheus.NewDesc(name("requests_in_flight"),
			"Requests being answered by a generation.", gen, nil),
		upgraded: prometheus.NewDesc(name("upgraded_connections"),
			"Open upgraded (WebSocket) connections to a generation.", gen, nil),
		rejected: prometheus.NewDesc(name("affinity_cookies_rejected_total"),
			"Affinity cookies ignored: forged, garbled, stale, of an ended session, or naming a generation that is gone.", nil, nil),
		switched: prometheus.NewDesc(name("sessions_switched_total"),
			"Sessions moved to the active generation through sessions.switch_path.", nil, nil),
		refused: prometheus.NewDesc(name("requests_refused_total"),
			"Requests refused before reaching a worker: malformed or ambiguous heads or chunked bodies, heads too large.", nil, nil),
	}
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.generations, c.info, c.sessions, c.inFlight, c.upgraded, c.rejected, c.switched, c.refused} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(c.proxy.RejectedAffinity()))
	ch <- prometheus.MustNewConstMetric(c.switched, prometheus.CounterValue, float64(c.proxy.Switched()))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(c.proxy.Refused()))
	// The Collector interface passes no context: the scrape's own bound.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	gens, err := c.sup.Generations(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.generations, err)
		return
	}
	byState := map[fleet.State]int{}
	for _, g := range gens {
		byState[g.State]++
		l := generationLabel(g.ID)
		// The supervisor refuses revisions that are not UTF-8; a label
		// must never make the scrape panic all the same.
		rev := strings.ToValidUTF8(g.Revision, "\uFFFD")
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, l, rev, string(g.State))
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(g.Usage.Sessions), l)
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(g.Usage.InFlight), l)
		ch <- prometheus.MustNewConstMetric(c.upgraded, prometheus.GaugeValue, float64(g.Usage.Upgraded), l)
	}
	// A generation leaves the list once retired, failed or lost (the
	// counters count those).
	for _, s := range fleet.Listed {
		ch <- prometheus.MustNewConstMetric(c.generations, prometheus.GaugeValue, float64(byState[s]), string(s))
	}
}
