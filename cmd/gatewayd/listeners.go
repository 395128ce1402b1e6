package main

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// listen opens the configured addresses: "host:port" or "unix:/path".
func listen(addrs []string) ([]net.Listener, error) {
	var ls []net.Listener
	for _, a := range addrs {
		network, address := "tcp", a
		if p, ok := strings.CutPrefix(a, "unix:"); ok {
			network, address = "unix", p
			os.Remove(address)
		}
		l, err := net.Listen(network, address)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("listening on gateway.listen %q: %w", a, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
