package proxyproto

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkAccept measures the accept path's cost per connection, the
// allocations above all.
func BenchmarkAccept(b *testing.B) {
	src := netip.MustParseAddrPort("203.0.113.9:61000")
	dst := netip.MustParseAddrPort("198.51.100.1:443")
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"v1", append(AppendV1(nil, src, dst), request...)},
		{"v2", append(AppendV2(nil, src, dst), request...)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &chunkConn{chunk: 1 << 20}
			b.ReportAllocs()
			for b.Loop() {
				c.data = bc.data
				if _, err := Accept(c, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
