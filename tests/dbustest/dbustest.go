// Package dbustest starts a private dbus-daemon for tests, as godbus's own
// tests do: a real bus with a permissive policy, reachable by other users
// (so a test can call it as an unprivileged uid), gone after the test.
package dbustest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// config allows everyone to connect, own names and call anything: the
// gateway's own checks are what the tests exercise.
const config = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`

// systemConfig is like Debian's system bus (system.conf): nobody may own
// names or call methods unless a policy file says so. policy is included.
const systemConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>%s</include>
</busconfig>
`

// Bus is a running private dbus-daemon.
type Bus struct {
	Address string
	cmd     *exec.Cmd
}

// Start starts the daemon and stops it when the test ends. It skips the
// test when dbus-daemon is not installed, unless GATEWAY_REQUIRE_SYSTEMD=1.
func Start(t testing.TB) *Bus {
	t.Helper()
	return start(t, func(sock string) string { return fmt.Sprintf(config, sock) })
}

// StartSystem starts a bus configured like the system bus, with the
// policy file included, to test what that file allows and denies.
func StartSystem(t testing.TB, policy string) *Bus {
	t.Helper()
	abs, err := filepath.Abs(policy)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, func(sock string) string { return fmt.Sprintf(systemConfig, sock, abs) })
}

func start(t testing.TB, configFor func(sock string) string) *Bus {
	t.Helper()
	exe, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("GATEWAY_REQUIRE_SYSTEMD") == "1" {
			t.Fatal("dbus-daemon not found: install the Debian package dbus")
		}
		t.Skip("dbus-daemon not found: install the Debian package dbus")
	}
	dir, err := os.MkdirTemp("", "gwbus-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // other uids must reach the socket
	sock := filepath.Join(dir, "bus")
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(configFor(sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "--config-file="+cfg, "--nofork", "--print-address")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &Bus{cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(dir)
	})
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case b.Address = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon printed no address within 10s")
	}
	if b.Address == "" {
		t.Fatal("dbus-daemon printed no address")
	}
	return b
}

// Conn opens a new connection to the bus, closed when the test ends.
func (b *Bus) Conn(t testing.TB) *dbus.Conn {
	t.Helper()
	c, err := dbus.Connect(b.Address)
	if err != nil {
		t.Fatalf("connecting to the private bus: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Env points a child process's session bus at this bus
// (DBUS_SESSION_BUS_ADDRESS), for clients run with --user.
func (b *Bus) Env() []string { return []string{"DBUS_SESSION_BUS_ADDRESS=" + b.Address} }
