// Command sessions fills gateways in front of tests/bench/backend (whose
// /login sets a new session cookie) with sessions, each to its own count,
// logging in as fast as its connections go (the login rate and the
// gateway's CPU per login of every tenth are reported), and then measures
// them side by side: in rounds, each gateway in turn, pinned requests (a
// session cookie and its affinity cookie, drawn from a sample of the
// sessions made) and new-session requests (/login without a cookie):
// requests per second, latency percentiles, the gateway's own CPU time per
// request (medians over the rounds), its RSS and peak RSS. Measured in the
// same rounds, the gateways see the same machine: this VM's speed drifts
// by more than 10 % within minutes. tests/bench/sessions.sh runs it;
// docs/benchmarks.md "Sessions at scale" has its output.
//
//	sessions -target http://127.0.0.1:P1,PID1,0 -target http://127.0.0.1:P2,PID2,1000000
//
// Standard library only.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var targets []*run
	flag.Func("target", "URL,PID,PINS: a gateway (base URL, process id) to fill with PINS sessions and measure; repeat the flag", func(v string) error {
		f := strings.Split(v, ",")
		if len(f) != 3 {
			return fmt.Errorf("want URL,PID,PINS")
		}
		u, err := url.Parse(f[0])
		pid, err2 := strconv.Atoi(f[1])
		pins, err3 := strconv.Atoi(f[2])
		if err != nil || err2 != nil || err3 != nil || u.Host == "" || pid <= 0 || pins < 0 {
			return fmt.Errorf("want URL,PID,PINS")
		}
		targets = append(targets, &run{addr: u.Host, pid: pid, pins: pins, sample: newSample(10000)})
		return nil
	})
	conns := flag.Int("conns", 32, "keep-alive connections")
	window := flag.Duration("measure", 4*time.Second, "how long each measurement of pinned requests runs (logins: half of it)")
	rounds := flag.Int("rounds", 5, "rounds; each measures every target, in turn, both kinds; the table shows medians")
	flag.Parse()
	if len(targets) == 0 {
		log.Fatal("sessions: at least one -target")
	}
	for _, r := range targets {
		r.conns, r.window = *conns, *window
		r.fill()
	}
	measure(targets, max(*rounds, 1))
}

type run struct {
	addr   string
	pid    int
	pins   int // sessions to make before measuring
	conns  int
	window time.Duration
	sample *sample
	made   atomic.Int64 // sessions created
	// measurements, by kind
	pinned, fresh []result
	at            int64 // sessions made when the measurements began
}

// fill makes r.pins sessions (at least 1,000, for pinned requests) and
// reports the login rate and gatewayd's CPU per login for every tenth.
func (r *run) fill() {
	target := max(r.pins, 1000)
	step := max(target/10, 1000)
	fmt.Printf("Filling %s to %d sessions (sessions made: login rate, gatewayd CPU per login):\n\n", r.addr, target)
	for int(r.made.Load()) < target {
		to := min(target, (int(r.made.Load())/step+1)*step)
		start, from, cpu := time.Now(), r.made.Load(), r.cpu()
		r.login(to)
		n := r.made.Load() - from
		fmt.Printf("- %d–%d: %.0f logins/s, gatewayd CPU %.1f µs/login\n", from, r.made.Load(),
			float64(n)/time.Since(start).Seconds(), float64((r.cpu()-cpu).Microseconds())/float64(n))
	}
	fmt.Println()
	r.at = r.made.Load()
}

// measure runs the rounds: in each, every target's pinned requests and
// then its logins, the order of targets rotating from round to round.
func measure(targets []*run, rounds int) {
	for i := range rounds {
		for j := range targets {
			r := targets[(i+j)%len(targets)]
			r.pinned = append(r.pinned, r.measure(true, r.window))
			r.fresh = append(r.fresh, r.measure(false, r.window/2))
		}
	}
	fmt.Printf("| pins at the start | kind | req/s | p50 ms | p99 ms | gatewayd CPU µs/req | RSS MB | peak RSS MB |\n")
	fmt.Printf("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range targets {
		r.row(r.at, "pinned", r.pinned)
		r.row(r.at, "new session", r.fresh)
	}
	fmt.Printf("\n(pins at the end of the rounds: ")
	for i, r := range targets {
		if i > 0 {
			fmt.Printf(", ")
		}
		fmt.Printf("%d", r.made.Load())
	}
	fmt.Printf(")\n")
}

type result struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration
	cpu     time.Duration
	errors  int
}

// row prints the medians of the repeated measurements of one kind.
func (r *run) row(at int64, kind string, rs []result) {
	var rate, p50, p99, cpu []float64
	for _, res := range rs {
		slices.Sort(res.lat)
		pct := func(p float64) float64 {
			if len(res.lat) == 0 {
				return 0
			}
			return float64(res.lat[int(p*float64(len(res.lat)-1))].Microseconds()) / 1000
		}
		rate = append(rate, float64(res.n)/res.elapsed.Seconds())
		p50, p99 = append(p50, pct(0.50)), append(p99, pct(0.99))
		cpu = append(cpu, float64(res.cpu.Microseconds())/float64(max(res.n, 1)))
		if res.errors > 0 {
			log.Printf("sessions: %d errors while measuring %s at %d pins", res.errors, kind, at)
		}
	}
	rss, peak := r.memory()
	fmt.Printf("| %d | %s | %.0f | %.2f | %.2f | %.1f | %.0f | %.0f |\n", at, kind,
		median(rate), median(p50), median(p99), median(cpu), rss, peak)
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// measure runs pinned requests (or logins) on every connection for the
// window, and reads the gateway's CPU time around it.
func (r *run) measure(pinned bool, window time.Duration) result {
	var mu sync.Mutex
	var res result
	stop := time.Now().Add(window)
	cpu0 := r.cpu()
	start := time.Now()
	var wg sync.WaitGroup
	for range r.conns {
		wg.Go(func() {
			c := r.dial()
			defer c.close()
			var lat []time.Duration
			errs := 0
			for time.Now().Before(stop) {
				cookie := ""
				if pinned {
					cookie = r.sample.pick()
				}
				t := time.Now()
				set, err := c.get(map[bool]string{true: "/", false: "/login"}[pinned], cookie)
				if err != nil {
					errs++
					c.close()
					c = r.dial()
					continue
				}
				lat = append(lat, time.Since(t))
				if !pinned {
					r.made.Add(1)
					r.sample.offer(set)
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed, res.cpu, res.n = time.Since(start), r.cpu()-cpu0, len(res.lat)
	return res
}

// login logs in until `to` sessions exist.
func (r *run) login(to int) {
	var wg sync.WaitGroup
	for range r.conns {
		wg.Go(func() {
			c := r.dial()
			defer c.close()
			for r.made.Load() < int64(to) {
				set, err := c.get("/login", "")
				if err != nil {
					c.close()
					c = r.dial()
					continue
				}
				r.made.Add(1)
				r.sample.offer(set)
			}
		})
	}
	wg.Wait()
}

// cpu is the gateway's user+system time (/proc/PID/stat, clock ticks of
// 10ms, as on every Linux this runs on).
func (r *run) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.pid))
	if err != nil {
		log.Fatalf("sessions: the gateway: %v", err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// memory is the gateway's VmRSS and VmHWM in MB.
func (r *run) memory() (rss, peak float64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.pid))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmRSS:" {
				rss = kb / 1000
			} else {
				peak = kb / 1000
			}
		}
	}
	return rss, peak
}

// conn is one keep-alive connection.
type conn struct {
	c  net.Conn
	br *bufio.Reader
}

func (r *run) dial() *conn {
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		log.Fatalf("sessions: %v", err)
	}
	return &conn{c: c, br: bufio.NewReader(c)}
}

func (c *conn) close() { c.c.Close() }

// get requests path with the Cookie header cookie ("" for none) and returns
// the cookies the answer sets, as a Cookie header value.
func (c *conn) get(path, cookie string) (string, error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: bench\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	if _, err := io.WriteString(c.c, req+"\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var set []string
	for _, ck := range resp.Cookies() {
		set = append(set, ck.Name+"="+ck.Value)
	}
	return strings.Join(set, "; "), nil
}

// sample keeps a uniform sample of the sessions made (reservoir sampling),
// for pinned requests.
type sample struct {
	mu   sync.Mutex
	seen int
	keep []string
}

func newSample(n int) *sample { return &sample{keep: make([]string, 0, n)} }

func (s *sample) offer(cookie string) {
	if !strings.Contains(cookie, "SID=") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	if len(s.keep) < cap(s.keep) {
		s.keep = append(s.keep, cookie)
	} else if i := rand.IntN(s.seen); i < len(s.keep) {
		s.keep[i] = cookie
	}
}

func (s *sample) pick() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keep[rand.IntN(len(s.keep))]
}
