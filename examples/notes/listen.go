package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// listenFDsStart is the first fd of the socket-activation protocol
// (SD_LISTEN_FDS_START); fds 0-2 are stdio.
const listenFDsStart = 3

// Where the listener came from, for the startup log.
const (
	sourceActivation = "activation"
	sourcePort       = "PORT"
	sourceAddr       = "addr"
)

// activationFDs reports how many sockets a service manager handed to the
// process with pid self. LISTEN_PID guards against inheriting the variables
// from a parent that was itself socket-activated: a mismatch means "not for
// us", not an error. Malformed values are errors, because silently falling
// back to another address would hide a broken gateway or unit file.
func activationFDs(listenFDs, listenPID string, self int) (int, error) {
	if listenFDs == "" || listenPID == "" {
		return 0, nil
	}
	pid, err := strconv.Atoi(listenPID)
	if err != nil {
		return 0, fmt.Errorf("LISTEN_PID=%q is not a number", listenPID)
	}
	if pid != self {
		return 0, nil
	}
	n, err := strconv.Atoi(listenFDs)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("LISTEN_FDS=%q is not a count of file descriptors", listenFDs)
	}
	return n, nil
}

// openListener picks the socket: socket activation first (the gateway's
// "fd" mode, which lets it keep the socket across worker restarts), then
// $PORT (the gateway's "port" mode and most PaaS conventions), then addr.
func openListener(addr string, getenv func(string) string, pid int) (net.Listener, string, error) {
	n, err := activationFDs(getenv("LISTEN_FDS"), getenv("LISTEN_PID"), pid)
	if err != nil {
		return nil, "", err
	}
	if n >= 1 {
		f := os.NewFile(listenFDsStart, "listener")
		l, err := net.FileListener(f) // dups the fd, so the original can go
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("socket activation: fd %d: %w", listenFDsStart, err)
		}
		return l, sourceActivation, nil
	}
	if port := getenv("PORT"); port != "" {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		return l, sourcePort, err
	}
	l, err := net.Listen("tcp", addr)
	return l, sourceAddr, err
}
