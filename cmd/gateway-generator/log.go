package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// A logger reports the generator's problems: on stderr, each line
// prefixed "gateway-generator: ", and, when systemd runs the generator, in
// the kernel log too. systemd 252 does not pass a generator's stderr on to
// the journal; systemd.generator(7) says generators must write to
// /dev/kmsg, which journald reads.
type logger struct {
	stderr io.Writer
	kmsg   io.Writer // nil when not run by systemd, or /dev/kmsg is not writable
	pid    int
}

// newLogger returns a logger writing to stderr and, if bySystemd, to
// /dev/kmsg when it can be opened.
func newLogger(stderr io.Writer, bySystemd bool) *logger {
	l := &logger{stderr: stderr, pid: os.Getpid()}
	if bySystemd {
		if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
			l.kmsg = f
		}
	}
	return l
}

// errorf reports one problem; a message of several lines (config.Errors)
// is reported line by line.
func (l *logger) errorf(format string, args ...any) {
	for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		fmt.Fprintf(l.stderr, "gateway-generator: %s\n", line)
		if l.kmsg != nil {
			// One write is one record, "<priority>identifier[pid]: text"
			// as journald parses it; 27 is LOG_DAEMON|LOG_ERR.
			fmt.Fprintf(l.kmsg, "<27>gateway-generator[%d]: %s\n", l.pid, line)
		}
	}
}
