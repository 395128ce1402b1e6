// Command backend is the app behind both proxies in tests/bench/peers.sh: the
// smallest HTTP/1.1 server that has a session cookie, so that the benchmark
// measures the proxies and not the app.
//
// Every request, whatever its method and path, gets the same 100-byte
// text/plain body. /login also sets the session cookie
// (Set-Cookie: SID=<random>; Path=/; HttpOnly), which makes the gateway pin
// the session; /healthz answers 200 like every other path (the readiness
// check). Sessions are not stored: a proxy's routing is what is measured.
//
// The socket comes from systemd-style socket activation (LISTEN_FDS=1,
// LISTEN_PID = this process, fd 3: the gateway's socket = "fd") when
// present, else from $PORT (127.0.0.1:$PORT), else from -addr.
//
// Standard library only.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// body is the answer to every request: exactly 100 bytes.
var body = func() []byte {
	const head = "gateway bench backend: the same 100-byte answer to every request"
	return []byte(head + strings.Repeat(".", 99-len(head)) + "\n")
}()

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address when neither LISTEN_FDS nor $PORT is set")
	flag.Parse()

	l, source, err := listener(*addr)
	if err != nil {
		log.Fatalf("backend: %v", err)
	}
	log.Printf("backend: pid %d serving on %s (from %s)", os.Getpid(), l.Addr(), source)

	length := strconv.Itoa(len(body))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"text/plain; charset=utf-8"}
			h["Content-Length"] = []string{length}
			if r.URL.Path == "/login" {
				h["Set-Cookie"] = []string{"SID=" + newID() + "; Path=/; HttpOnly"}
			}
			w.WriteHeader(http.StatusOK)
			w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Fatal(srv.Serve(l))
}

// listener picks the socket: activation first (fd 3), then $PORT, then addr.
func listener(addr string) (net.Listener, string, error) {
	if fds, pid := os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID"); fds != "" && pid == strconv.Itoa(os.Getpid()) {
		if fds != "1" {
			return nil, "", fmt.Errorf("LISTEN_FDS=%q: want exactly 1 socket", fds)
		}
		f := os.NewFile(3, "listener")
		l, err := net.FileListener(f) // dups the fd
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("socket activation: fd 3: %w", err)
		}
		return l, "activation", nil
	}
	if port := os.Getenv("PORT"); port != "" {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		return l, "PORT", err
	}
	l, err := net.Listen("tcp", addr)
	return l, "-addr", err
}

// newID returns a random session id: 16 bytes, hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
