package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// recorder is an Observer that keeps what it is told, as "gen/status".
type recorder struct {
	mu   sync.Mutex
	got  []string
	long []time.Duration
}

func (o *recorder) Request(gen, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, fmt.Sprintf("%d/%d", gen, status))
	o.long = append(o.long, d)
}

// wait waits until n requests were observed (the Observer runs after the
// client has its answer) and returns them.
func (o *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		got := slices.Clone(o.got)
		o.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("observed requests: got %q, want %d", got, n)
			}
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

func TestObserverSeesEveryAnswer(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			obs := &recorder{}
			f := newFixture(t, Options{Observer: obs})
			hc := http.DefaultClient
			if h2 {
				url, cert := serveTLS(t, f.proxy)
				f.front.URL, hc = url, cert.Client(true)
			}
			observeEveryAnswer(t, f, obs, hc)
		})
	}
}

// observeEveryAnswer makes requests of every outcome through f's front
// (with hc) and checks that each is observed once, with its generation.
func observeEveryAnswer(t *testing.T, f *fixture, obs *recorder, hc *http.Client) {
	get := func(c *client, path string) { c.do("GET", path, hc) }
	a := f.client(t)
	get(a, "/login")
	get(a, "/missing")
	f.upgrade(t)
	get(a, "/") // pinned to 1
	get(f.client(t), "/")

	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	dead.Close()
	f.proxy.Publish(&fleet.Routes{Active: &fleet.Route{Generation: 3, Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: dead.Addr().String()}}}})
	get(f.client(t), "/")
	f.proxy.Publish(&fleet.Routes{})
	get(f.client(t), "/")

	// The Observer runs after the client has its answer: the order of two
	// requests in a row is not guaranteed.
	got := obs.wait(t, 6)
	want := []string{"1/200", "1/404", "1/200", "2/200", "3/502", "0/503"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("observed: got %q, want %q", got, want)
	}
	for i, d := range obs.long {
		if d <= 0 || d > 5*time.Second {
			t.Errorf("request %d: duration %v, want a plausible one", i, d)
		}
	}
}

// A protocol switch is observed when it happens, not when the connection
// ends hours later.
func TestObserverSeesProtocolSwitch(t *testing.T) {
	obs := &recorder{}
	f := newFixture(t, Options{Observer: obs})
	c, br := dialUpgrade(t, f, "")
	defer c.Close()
	if got := obs.wait(t, 1); got[0] != "1/101" {
		t.Fatalf("observed: got %q, want 1/101", got)
	}
	io.WriteString(c, "ping\n")
	if line, _ := br.ReadString('\n'); line != "ping\n" {
		t.Fatalf("echo: got %q", line)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for f.proxy.Usage(1).Upgraded != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := obs.wait(t, 1); len(got) != 1 {
		t.Fatalf("observed after the connection closed: got %q, want the switch only", got)
	}
}

// ReverseProxy aborts a request whose body breaks off with a panic
// (http.ErrAbortHandler); the request must still stop counting as in
// flight, or its generation could never retire.
func TestAbortedRequestIsNotLeftInFlight(t *testing.T) {
	obs := &recorder{}
	f := newFixture(t, Options{Observer: obs})
	for range 3 {
		resp, err := http.Get(f.front.URL + "/abort")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	got := obs.wait(t, 3)
	if got[0] != "1/200" {
		t.Errorf("observed: got %q, want the status the client got (200)", got)
	}
	if u := f.proxy.Usage(1); u.InFlight != 0 {
		t.Fatalf("gen 1 after aborted requests: got %d in flight, want 0", u.InFlight)
	}
}

// The writer the proxy puts between ReverseProxy and the client must not
// hide what ReverseProxy needs of the client's: streaming flushes.
func TestStreamingThroughWatchWriter(t *testing.T) {
	obs := &recorder{}
	f := newFixture(t, Options{Observer: obs})
	step := make(chan struct{})
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-step
		io.WriteString(w, "second\n")
	})
	s := newServer(t, backend)
	f.proxy.Publish(&fleet.Routes{Active: &fleet.Route{Generation: 4, Instances: []fleet.Endpoint{{Instance: 1, Network: "tcp", Address: s}}}})
	resp, err := http.Get(f.front.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); line != "first\n" {
		t.Fatalf("first line before the rest was sent: got %q, %v", line, err)
	}
	close(step)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "second") {
		t.Fatalf("rest: got %q", rest)
	}
	if got := obs.wait(t, 1); got[0] != "4/200" {
		t.Fatalf("observed: got %q, want 4/200", got)
	}
}

// newServer serves h on a loopback port for the test and returns its address.
func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}
