package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseTrusted reads one gateway.trusted_proxies entry: an address, a
// CIDR, or "unix" (unix is true: clients of unix-socket listeners).
func ParseTrusted(s string) (p netip.Prefix, unix bool, err error) {
	if s == "unix" {
		return p, true, nil
	}
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
		if err == nil && p != p.Masked() {
			return p, false, fmt.Errorf("%q has host bits set, want %q", s, p.Masked())
		}
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(s); err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return p, false, fmt.Errorf(`%q is not an address, a CIDR or "unix", e.g. "10.0.0.0/8"`, s)
	}
	return p.Masked(), false, nil
}

// Trusted is gateway.trusted_proxies parsed; entries are checked by Load.
func (g Gateway) Trusted() (prefixes []netip.Prefix, unix bool) {
	for _, s := range g.TrustedProxies {
		p, u, err := ParseTrusted(s)
		if err != nil {
			continue
		}
		if u {
			unix = true
		} else {
			prefixes = append(prefixes, p)
		}
	}
	return prefixes, unix
}
