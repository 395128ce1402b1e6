package proxy

import (
	"io"
	"testing"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/gwtest"
)

// BenchmarkH2Parallel is the HTTP/2 path end to end on loopback: a Go
// HTTP/2 client (one connection, streams in parallel) through a TLS
// listener to benchBackend. Its CPU profile shows where the gateway's
// HTTP/2 time goes (the client's is in the same process: read the
// gateway's frames, net/http's server and proxy's h2 files).
//
//	go test -run '^$' -bench H2Parallel -cpuprofile cpu.out ./proxy/
func BenchmarkH2Parallel(b *testing.B) {
	h, _ := NewHasher(benchSecret)
	p, err := New(Options{Hasher: h, SessionCookie: "SID", Logger: gwtest.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	p.Publish(&fleet.Routes{Active: gen(1, benchBackend(b))})
	url, cert := serveTLS(b, p)
	hc := cert.Client(true)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Get(url + "/")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
