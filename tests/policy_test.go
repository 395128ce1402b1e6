package tests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/tests/dbustest"
)

// TestMain lets the test binary act as a D-Bus client under another uid.
func TestMain(m *testing.M) {
	if addr := os.Getenv("GATEWAY_POLICY_CLIENT"); addr != "" {
		os.Exit(policyClient(addr))
	}
	os.Exit(m.Run())
}

// policyClient calls every method once and prints "Method: result" lines.
func policyClient(addr string) int {
	conn, err := dbus.Connect(addr)
	if err != nil {
		fmt.Println("connect:", err)
		return 1
	}
	obj := conn.Object(dbusapi.BusName(""), dbusapi.Path)
	calls := []struct {
		name string
		args []any
	}{
		{dbusapi.Interface + ".ListGenerations", nil},
		{dbusapi.Interface + ".GetTrial", nil},
		{"org.freedesktop.DBus.Properties.GetAll", []any{dbusapi.Interface}},
		{"org.freedesktop.DBus.Introspectable.Introspect", nil},
		{dbusapi.Interface + ".Upgrade", nil},
		{dbusapi.Interface + ".Retire", []any{uint32(1), true}},
		{dbusapi.Interface + ".ListSessions", nil},
		{dbusapi.Interface + ".EndSession", []any{"00000000000000000000000000000000"}},
	}
	for _, c := range calls {
		err := obj.Call(c.name, 0, c.args...).Err
		var de dbus.Error
		switch {
		case err == nil:
			fmt.Printf("%s: ok\n", c.name)
		case errors.As(err, &de):
			fmt.Printf("%s: %s\n", c.name, de.Name)
		default:
			fmt.Printf("%s: %v\n", c.name, err)
		}
	}
	return 0
}

type allowAll struct{}

func (allowAll) Upgrade(context.Context) (int, error)                     { return 2, nil }
func (allowAll) Detach(context.Context, int) (int, error)                 { return 2, nil }
func (allowAll) Rollback(context.Context, bool) (int, error)              { return 1, nil }
func (allowAll) UpgradeCanary(context.Context, float64) (int, error)      { return 3, nil }
func (allowAll) Promote(context.Context) (int, error)                     { return 3, nil }
func (allowAll) Abort(context.Context, bool) (int, error)                 { return 3, nil }
func (allowAll) Retire(context.Context, int, bool) error                  { return nil }
func (allowAll) EndSession(context.Context, fleet.SessionKey) error       { return nil }
func (allowAll) PinStore(context.Context) (fleet.PinStore, error)         { return fleet.PinStore{}, nil }
func (allowAll) Listeners(context.Context) ([]fleet.Listener, error)      { return nil, nil }
func (allowAll) Sessions(context.Context) ([]fleet.Pin, error)            { return nil, nil }
func (allowAll) RecentSessions(context.Context, int) ([]fleet.Pin, error) { return nil, nil }
func (allowAll) Generations(context.Context) ([]fleet.Generation, error) {
	return []fleet.Generation{{ID: 1, State: fleet.Active}}, nil
}

// The shipped policy file on a bus configured like the system bus: root
// owns the name; everyone may read; only root and gateway-admin may
// change things or see sessions.
func TestDBusPolicyFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it runs clients as other users")
	}
	// dbus-daemon resolves group names when it loads its configuration,
	// so the group must exist first (as the package's postinst ensures).
	admin := ensureAdminUser(t)
	bus := dbustest.StartSystem(t, "../units/org.gatewayd.Gateway1.conf")
	conn := bus.Conn(t)
	if reply, err := conn.RequestName(dbusapi.BusName(""), dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("root owning the name: got %v (%v)", reply, err)
	}
	if _, err := dbusapi.Export(conn, allowAll{}, dbusapi.Info{App: "t"}, dbusapi.Options{}); err != nil {
		t.Fatal(err)
	}
	denied := "org.freedesktop.DBus.Error.AccessDenied"
	for _, tc := range []struct {
		who  string
		uid  int
		gid  int
		want map[string]string
	}{
		{who: "nobody", uid: 65534, gid: 65534, want: map[string]string{
			"ListGenerations": "ok", "GetTrial": "ok", "GetAll": "ok", "Introspect": "ok",
			"Upgrade": denied, "Retire": denied, "ListSessions": denied, "EndSession": denied}},
		{who: "a gateway-admin member", uid: admin.uid, gid: admin.gid, want: map[string]string{
			"ListGenerations": "ok", "GetTrial": "ok", "Upgrade": "ok", "Retire": "ok", "ListSessions": "ok", "EndSession": "ok"}},
	} {
		t.Run(tc.who, func(t *testing.T) {
			got := runAs(t, tc.uid, tc.gid, bus.Address)
			for method, want := range tc.want {
				if got[method] != want {
					t.Errorf("%s: got %q, want %q", method, got[method], want)
				}
			}
		})
	}
	t.Run("nobody may not own the name", func(t *testing.T) {
		out := runAsCmd(t, 65534, 65534, bus.Address, "own")
		if !strings.Contains(out, "Access denied") {
			t.Fatalf("busctl RequestName as nobody: got %q, want access denied", out)
		}
	})
}

type adminUser struct{ uid, gid int }

// ensureAdminUser makes a throwaway system user in the gateway-admin group
// (creating the group if the machine lacks it) and removes both after.
func ensureAdminUser(t *testing.T) adminUser {
	createdGroup := false
	if _, err := user.LookupGroup("gateway-admin"); err != nil {
		if out, err := exec.Command("groupadd", "--system", "gateway-admin").CombinedOutput(); err != nil {
			t.Fatalf("groupadd: %v %s", err, out)
		}
		createdGroup = true
	}
	name := fmt.Sprintf("gwpol%d", os.Getpid())
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "-g", "nogroup", "-G", "gateway-admin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("userdel", name).Run()
		if createdGroup {
			exec.Command("groupdel", "gateway-admin").Run()
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return adminUser{uid, gid}
}

// runAs runs the policy client as uid and returns method → result.
func runAs(t *testing.T, uid, gid int, addr string) map[string]string {
	out := runAsCmd(t, uid, gid, addr, "")
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		name, res, ok := strings.Cut(line, ": ")
		if ok {
			got[name[strings.LastIndex(name, ".")+1:]] = res
		}
	}
	return got
}

func runAsCmd(t *testing.T, uid, gid int, addr, mode string) string {
	exe := copyTestBinary(t)
	cmd := exec.Command(exe)
	cmd.Env = []string{"GATEWAY_POLICY_CLIENT=" + addr}
	if mode == "own" {
		cmd = exec.Command("busctl", "--address="+addr, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
			"org.freedesktop.DBus", "RequestName", "su", dbusapi.BusName(""), "4")
	}
	groups, err := supplementaryGroups(uid)
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}}
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func supplementaryGroups(uid int) ([]uint32, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return nil, nil
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, id := range ids {
		n, _ := strconv.Atoi(id)
		out = append(out, uint32(n))
	}
	return out, nil
}

// copyTestBinary puts this test binary where other users can run it.
func copyTestBinary(t *testing.T) string {
	dir, err := os.MkdirTemp("", "gwpol-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, "client")
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(f, src)
	f.Close()
	return dst
}
