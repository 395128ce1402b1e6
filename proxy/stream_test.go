package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Server-sent events: the worker writes an event and waits until the
// client has read it before it writes the next, so each event can only
// arrive if the gateway flushed it on its own, without more data behind.
func TestServerSentEventsArriveOneByOne(t *testing.T) {
	const events = 5
	workers := map[string]func(t *testing.T, seen <-chan int) string{
		"chunked": func(t *testing.T, seen <-chan int) string {
			return httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				rc := http.NewResponseController(w)
				for i := 1; i <= events; i++ {
					fmt.Fprintf(w, "data: %d\n\n", i)
					rc.Flush()
					if !confirmed(t, seen, i) {
						return
					}
				}
			}).Listener.Addr().String()
		},
		"close-delimited": func(t *testing.T, seen <-chan int) string {
			return newTap(t, func(tc *tapConn) {
				if _, err := http.ReadRequest(tc.br); err != nil {
					return
				}
				io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
				for i := 1; i <= events; i++ {
					fmt.Fprintf(tc, "data: %d\n\n", i)
					if !confirmed(t, seen, i) {
						return
					}
				}
			}).addr
		},
	}
	for name, worker := range workers {
		for _, version := range []string{"HTTP/1.1", "HTTP/1.0"} {
			t.Run(name+" to "+version, func(t *testing.T) {
				e := newEngine(t, ServerOptions{})
				seen := make(chan int)
				e.use(worker(t, seen))
				w := dial(t, e.addr)
				w.send("GET /events " + version + "\r\nHost: x\r\n\r\n")
				resp := w.head("GET")
				if resp.StatusCode != 200 {
					t.Fatalf("status: got %d, want 200", resp.StatusCode)
				}
				br := bufio.NewReader(resp.Body)
				for i := 1; i <= events; i++ {
					var ev strings.Builder
					for !strings.HasSuffix(ev.String(), "\n\n") {
						line, err := br.ReadString('\n')
						ev.WriteString(line)
						if err != nil {
							t.Fatalf("event %d: got %q, %v", i, ev.String(), err)
						}
					}
					if want := fmt.Sprintf("data: %d\n\n", i); ev.String() != want {
						t.Fatalf("event %d: got %q, want %q", i, ev.String(), want)
					}
					select {
					case seen <- i:
					case <-time.After(waitLimit):
						t.Fatalf("event %d: the worker no longer waits for it", i)
					}
				}
				if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
					t.Fatalf("after the events: got %q, %v; want the end", rest, err)
				}
			})
		}
	}
}

// confirmed waits for the client to confirm event i.
func confirmed(t *testing.T, seen <-chan int, i int) bool {
	select {
	case got := <-seen:
		if got != i {
			t.Errorf("confirmed event: got %d, want %d", got, i)
			return false
		}
		return true
	case <-time.After(waitLimit):
		t.Errorf("event %d: the client did not get it (not flushed?)", i)
		return false
	}
}

// A worker that echoes each piece of a request body as it reads it, and a
// client that sends a piece only after the echo of the previous one: both
// directions must flow at once through the gateway.
func TestFullDuplexUpload(t *testing.T) {
	pieces := []string{"first piece\n", "second piece\n", "third\n"}
	total := 0
	for _, p := range pieces {
		total += len(p)
	}
	cases := []struct {
		name, head string
		frame      func(piece string) string
		end        string
	}{
		{"content-length", fmt.Sprintf("Content-Length: %d\r\n", total), func(p string) string { return p }, ""},
		{"chunked", "Transfer-Encoding: chunked\r\n", func(p string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(p), p) }, "0\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "chunked" {
			}
			e := newEngine(t, ServerOptions{})
			s := httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				if err := rc.EnableFullDuplex(); err != nil {
					t.Errorf("full duplex: %v", err)
					return
				}
				br := bufio.NewReader(r.Body)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(w, line)
					rc.Flush()
				}
			})
			e.use(s.Listener.Addr().String())
			w := dial(t, e.addr)
			w.send("POST /echo HTTP/1.1\r\nHost: x\r\n" + c.head + "\r\n" + c.frame(pieces[0]))
			resp := w.head("POST")
			if resp.StatusCode != 200 {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			br := bufio.NewReader(resp.Body)
			for i, p := range pieces {
				if i > 0 {
					w.send(c.frame(p))
				}
				if got, err := br.ReadString('\n'); got != p {
					t.Fatalf("echo %d: got %q, %v; want %q", i+1, got, err, p)
				}
			}
			w.send(c.end)
			if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
				t.Fatalf("after the echoes: got %q, %v; want the end", rest, err)
			}
		})
	}
}
