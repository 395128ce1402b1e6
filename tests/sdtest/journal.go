package sdtest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatewayd/gateway/tests/confine"
)

// Entry is one journal entry the harness received, with its fields as
// journald would store them: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, _PID,
// _TRANSPORT ("journal" for the native protocol, "stdout" for a service's
// output) and _SYSTEMD_USER_UNIT. The unit is read from the sender's cgroup
// when its stream opens or its datagram arrives, as journald does; it is
// missing when the sender has exited by then (a short-lived process).
type Entry struct {
	Time   time.Time
	Fields map[string]string
}

// Message is the entry's MESSAGE field.
func (e Entry) Message() string { return e.Fields["MESSAGE"] }

// String renders the entry as journalctl's short format does, without
// time and host: "IDENTIFIER[PID]: MESSAGE".
func (e Entry) String() string {
	ident := e.Fields["SYSLOG_IDENTIFIER"]
	if ident == "" {
		ident = e.Fields["_COMM"]
	}
	if pid := e.Fields["_PID"]; pid != "" {
		ident += "[" + pid + "]"
	}
	return ident + ": " + e.Fields["MESSAGE"]
}

// journal stands in for journald, which does not run here. It serves the
// two sockets systemd and its services write to, the native protocol
// (/run/systemd/journal/socket, datagrams) and the stdout stream protocol
// (/run/systemd/journal/stdout), from the runtime directory; the manager's
// namespace links /run/systemd/journal there. Entries are kept in memory
// and appended, rendered, to the manager's log file.
type journal struct {
	dir    string
	cgroup string // the manager's cgroup root, for _SYSTEMD_USER_UNIT
	native *net.UnixConn
	stream *net.UnixListener
	log    *os.File // O_APPEND, shared with the manager's stdout and stderr

	wg      sync.WaitGroup
	mu      sync.Mutex
	entries []Entry
	conns   map[net.Conn]bool
	closed  bool
}

// listenJournal creates dir and the journal's sockets in it.
func listenJournal(dir string, log *os.File) (*journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	native, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "socket"), Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("listening on the journal socket: %w", err)
	}
	_ = native.SetReadBuffer(8 << 20)
	if err := setPassCred(native); err != nil {
		native.Close()
		return nil, fmt.Errorf("SO_PASSCRED on the journal socket: %w", err)
	}
	stream, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "stdout"), Net: "unix"})
	if err != nil {
		native.Close()
		return nil, fmt.Errorf("listening on the journal stdout socket: %w", err)
	}
	for _, name := range []string{"socket", "stdout"} {
		_ = os.Chmod(filepath.Join(dir, name), 0o666)
	}
	j := &journal{dir: dir, native: native, stream: stream, log: log, conns: map[net.Conn]bool{}}
	j.wg.Add(2)
	go j.serveNative()
	go j.serveStream()
	return j, nil
}

func setPassCred(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	return serr
}

// close stops serving, closes every stream and waits for its goroutines.
func (j *journal) close() {
	j.mu.Lock()
	j.closed = true
	for c := range j.conns {
		c.Close()
	}
	j.mu.Unlock()
	j.native.Close()
	j.stream.Close()
	j.wg.Wait()
}

// snapshot returns a copy of the entries so far.
func (j *journal) snapshot() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Entry(nil), j.entries...)
}

// setCgroup sets the manager's cgroup root once it is known.
func (j *journal) setCgroup(root string) {
	j.mu.Lock()
	j.cgroup = root
	j.mu.Unlock()
}

func (j *journal) add(fields map[string]string) {
	j.mu.Lock()
	root := j.cgroup
	j.mu.Unlock()
	if pid, err := strconv.Atoi(fields["_PID"]); err == nil && fields["_SYSTEMD_USER_UNIT"] == "" {
		if unit := unitOf(pid, root); unit != "" {
			fields["_SYSTEMD_USER_UNIT"] = unit
		}
	}
	e := Entry{Time: time.Now(), Fields: fields}
	line := e.String()
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, e)
	_, _ = j.log.WriteString(line)
}

// unitOf is the unit a process runs in, from its cgroup below root
// (root/app.slice/NAME.service → NAME.service), or "".
func unitOf(pid int, root string) string {
	paths, err := confine.ProcCgroups(pid)
	if err != nil || root == "" || !confine.Under(paths["name=systemd"], root) {
		return ""
	}
	parts := strings.Split(strings.TrimPrefix(paths["name=systemd"], root), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if p := parts[i]; strings.Contains(p, ".") && !strings.HasSuffix(p, ".slice") {
			return p
		}
	}
	return ""
}

// serveNative reads datagrams of the native protocol (systemd's own log
// and sd_journal_send of services), file descriptors of sealed memfds for
// large ones included.
func (j *journal) serveNative() {
	defer j.wg.Done()
	buf := make([]byte, 4<<20)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred)+syscall.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := j.native.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		data := buf[:n]
		pid := 0
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, msg := range msgs {
				if cred, err := syscall.ParseUnixCredentials(&msg); err == nil {
					pid = int(cred.Pid)
				}
				if fds, err := syscall.ParseUnixRights(&msg); err == nil {
					for _, fd := range fds {
						f := os.NewFile(uintptr(fd), "memfd")
						if b, err := readAllAt(f); err == nil {
							data = b
						}
						f.Close()
					}
				}
			}
		}
		fields := parseNative(data)
		if len(fields) == 0 {
			continue
		}
		fields["_TRANSPORT"] = "journal"
		if pid > 0 {
			fields["_PID"] = strconv.Itoa(pid)
		}
		j.add(fields)
	}
}

// readAllAt reads a file from offset 0, whatever its descriptor's offset.
func readAllAt(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.NewSectionReader(f, 0, fi.Size()))
}

// parseNative parses the journal's native protocol: fields "KEY=VALUE\n",
// or "KEY\n" followed by a little-endian uint64 size, the value and "\n".
func parseNative(b []byte) map[string]string {
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			nl = len(b)
		}
		line := b[:nl]
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			fields[string(line[:eq])] = string(line[eq+1:])
			b = b[min(nl+1, len(b)):]
			continue
		}
		// Binary-safe field.
		rest := b[min(nl+1, len(b)):]
		if len(rest) < 8 {
			break
		}
		size := binary.LittleEndian.Uint64(rest[:8])
		if size > uint64(len(rest)-8) {
			break
		}
		fields[string(line)] = string(rest[8 : 8+size])
		b = rest[8+size:]
		if len(b) > 0 && b[0] == '\n' {
			b = b[1:]
		}
	}
	return fields
}

// serveStream accepts the stdout streams of services.
func (j *journal) serveStream() {
	defer j.wg.Done()
	for {
		c, err := j.stream.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		j.mu.Lock()
		if j.closed {
			j.mu.Unlock()
			c.Close()
			return
		}
		j.conns[c] = true
		j.wg.Add(1)
		j.mu.Unlock()
		go j.readStream(c)
	}
}

// readStream reads one service's stdout stream: the header systemd writes
// (identifier, unit, priority, level prefix, and three forwarding flags,
// one a line), then the service's output, one entry a line.
func (j *journal) readStream(c *net.UnixConn) {
	defer j.wg.Done()
	defer func() {
		j.mu.Lock()
		delete(j.conns, c)
		j.mu.Unlock()
		c.Close()
	}()
	pid := peerPID(c)
	// Now, while the service most likely still runs: the lines may come
	// after it has exited.
	j.mu.Lock()
	root := j.cgroup
	j.mu.Unlock()
	unit := unitOf(pid, root)
	r := bufio.NewReaderSize(c, 64<<10)
	var header [7]string
	for i := range header {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		header[i] = strings.TrimSuffix(line, "\n")
	}
	ident := header[0]
	if header[1] != "" {
		unit = header[1]
	}
	priority, levelPrefix := header[2], header[3] == "1"
	for {
		line, err := r.ReadString('\n')
		if line = strings.TrimSuffix(line, "\n"); line != "" || err == nil {
			fields := map[string]string{
				"MESSAGE": line, "PRIORITY": priority, "SYSLOG_IDENTIFIER": ident, "_TRANSPORT": "stdout",
			}
			if levelPrefix && len(line) >= 3 && line[0] == '<' && line[2] == '>' && line[1] >= '0' && line[1] <= '7' {
				fields["PRIORITY"], fields["MESSAGE"] = line[1:2], line[3:]
			}
			if unit != "" {
				fields["_SYSTEMD_USER_UNIT"] = unit
			}
			if pid > 0 {
				fields["_PID"] = strconv.Itoa(pid)
			}
			j.add(fields)
		}
		if err != nil {
			return
		}
	}
}

// peerPID is the PID of the process that connected c (SO_PEERCRED): the
// service's main process, which systemd connects before exec.
func peerPID(c *net.UnixConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var cred *syscall.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cred == nil {
		return 0
	}
	return int(cred.Pid)
}
