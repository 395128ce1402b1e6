package unitgen

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
)

// listen is one [gateway] listen address as a ListenStream= value.
type listen struct {
	value    string // for ListenStream=, before escaping "%"
	host     string // the IP address; "" for a unix socket or all interfaces
	nonLocal bool   // a specific address that is not loopback: may not exist yet at boot
}

// maxSocketPath is the longest unix socket path systemd binds: the 108
// bytes of sockaddr_un's sun_path, with a NUL at the end.
const maxSocketPath = 107

// parseListen turns a listen address of the config ("host:port",
// "[v6]:port", ":port" or "unix:/path") into what systemd's ListenStream=
// takes (systemd.socket(5)): an IP address and port as they are, only a
// port for all interfaces (both IPv4 and IPv6, as Go's ":port"), and the
// path of a unix socket. runDir is the service's RuntimeDirectory.
func parseListen(a, runDir string) (listen, error) {
	if p, ok := strings.CutPrefix(a, "unix:"); ok {
		return listen{value: p}, checkSocketPath(a, p, runDir)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return listen{}, fmt.Errorf("%q: %w", a, err) // config.Validate rejects these first
	}
	if host == "" {
		return listen{value: port}, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return listen{}, fmt.Errorf(`%q: systemd's ListenStream= takes an IP address, not a host name: `+
			`use e.g. "127.0.0.1:%s", "[::1]:%s", or ":%s" for all interfaces`, a, port, port, port)
	}
	return listen{value: a, host: host, nonLocal: !ip.IsLoopback() && !ip.IsUnspecified()}, nil
}

// checkSocketPath says what keeps systemd from listening on the unix
// socket path p (from the address a) for as long as the socket unit runs.
func checkSocketPath(a, p, runDir string) error {
	switch {
	case len(p) < 2 || len(p) > maxSocketPath:
		return fmt.Errorf("%q: a unix socket path must have 2 to %d bytes", a, maxSocketPath)
	case strings.TrimSpace(p) != p || strings.HasSuffix(p, `\`):
		// A unit file drops white space around a value; a trailing
		// backslash continues the line.
		return fmt.Errorf(`%q: a unit file cannot hold a path that begins or ends with white space or ends with "\"`, a)
	case path.Clean(p) == runDir || strings.HasPrefix(path.Clean(p), runDir+"/"):
		return fmt.Errorf("%q is in %s, the service's RuntimeDirectory=, which systemd removes when the service stops "+
			"while the socket keeps listening: use a path outside it, e.g. \"unix:%s.sock\"", a, runDir, runDir)
	}
	return nil
}
