package unitgen

import (
	"fmt"
	"strings"

	"github.com/gatewayd/gateway/config"
)

// ListenerUnit names the socket unit of a [listeners.NAME] table:
// gateway-listener-NAME.socket for the default instance,
// gateway-INSTANCE-listener-NAME.socket for a template instance. (A ":"
// would separate them better, but systemd 252's verify cannot read unit
// files named with one.)
func ListenerUnit(instance, name string) string {
	if instance == "" {
		return "gateway-listener-" + name + ".socket"
	}
	return "gateway-" + instance + "-listener-" + name + ".socket"
}

// listenerFiles renders a socket unit per [listeners.NAME] table with an
// address, named NAME for gatewayd (FileDescriptorName=) and started with
// sockets.target, and the service drop-in that makes the service take
// them (Sockets=: a service otherwise inherits only its same-named socket).
func listenerFiles(cfg *config.Config, instance, source string) (Files, error) {
	var files Files
	var errs config.Errors
	sockets := []string{Unit(instance, "socket")}
	for _, name := range cfg.ListenerNames() {
		lc := cfg.Listeners[name]
		if lc.Address == "" {
			errs = append(errs, &config.Error{File: source, Key: "listeners." + name,
				Msg: "no address: under systemd the generator makes its socket unit from it"})
			continue
		}
		l, err := parseListen(lc.Address, runtimeDir(instance))
		if err != nil {
			errs = append(errs, &config.Error{File: source, Key: "listeners." + name + ".address", Msg: err.Error()})
			continue
		}
		unit := ListenerUnit(instance, name)
		sockets = append(sockets, unit)
		var b strings.Builder
		header(&b, source)
		fmt.Fprintf(&b, "Description=gateway: listener %s\n\n[Socket]\n", name)
		fmt.Fprintf(&b, "ListenStream=%s\nFileDescriptorName=%s\nService=%s\n", escapeSpecifiers(l.value), name, Unit(instance, "service"))
		b.WriteString("Backlog=4096\nNoDelay=yes\n")
		if l.nonLocal {
			fmt.Fprintf(&b, "# %s may not be configured yet when sockets start at boot.\nFreeBind=yes\n", l.host)
		}
		files = append(files, File{Path: unit, Content: []byte(b.String())},
			File{Path: "sockets.target.wants/" + unit, Link: "../" + unit})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(files) == 0 {
		return nil, nil
	}
	var b strings.Builder
	header(&b, source)
	b.WriteString("[Service]\n# The sockets of [gateway] listen and of the [listeners] tables.\n")
	fmt.Fprintf(&b, "Sockets=%s\n", strings.Join(sockets, " "))
	return append(Files{{Path: Unit(instance, "service") + ".d/50-gateway-listeners.conf", Content: []byte(b.String())}}, files...), nil
}
