package shim

import (
	"fmt"
	"net"
	"syscall"
)

// journalStream is journald's socket for stdout streams, the one services
// get their output connected to (sd_journal_stream_fd(3)).
const journalStream = "/run/systemd/journal/stdout"

// connectJournal makes stdout and stderr a journal stream. The shim runs
// inside the generation's scope by now, so journald attributes the stream
// to the scope: `journalctl -u gateway-gen4.scope` shows the worker's own
// output.
func connectJournal(identifier string) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: journalStream, Net: "unix"})
	if err != nil {
		return err
	}
	defer c.Close()
	// identifier, unit id, priority (info), level prefix, then no
	// forwarding to syslog, kmsg or the console.
	if _, err := fmt.Fprintf(c, "%s\n\n6\n1\n0\n0\n0\n", identifier); err != nil {
		return err
	}
	c.CloseRead()
	f, err := c.File()
	if err != nil {
		return err
	}
	defer f.Close()
	for _, fd := range []int{1, 2} {
		if err := syscall.Dup3(int(f.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return nil
}
