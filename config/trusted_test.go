package config

import (
	"net/netip"
	"testing"
)

func TestTrusted(t *testing.T) {
	g := Gateway{TrustedProxies: []string{"10.0.0.0/8", "::1", "192.0.2.7", "unix"}}
	prefixes, unix := g.Trusted()
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.0.2.7/32")}
	if !unix || len(prefixes) != len(want) {
		t.Fatalf("got %v, unix %t; want %v and unix", prefixes, unix, want)
	}
	for i := range want {
		if prefixes[i] != want[i] {
			t.Errorf("entry %d: got %v, want %v", i, prefixes[i], want[i])
		}
	}
}
