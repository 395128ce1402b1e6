package dbusapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// The helper process: the test binary run again under another uid, as a
// client of the gateway on the private bus.
const (
	helperEnv     = "GATEWAY_DBUSAPI_HELPER" // "calls" selects the helper
	helperBusEnv  = "GATEWAY_DBUSAPI_HELPER_BUS"
	helperNameEnv = "GATEWAY_DBUSAPI_HELPER_NAME"
)

// helperResult is one line of the helper's output.
type helperResult struct {
	Call   string `json:"call"`
	OK     bool   `json:"ok"`
	Name   string `json:"name,omitempty"` // the D-Bus error name
	Msg    string `json:"msg,omitempty"`
	Result string `json:"result,omitempty"`
}

// TestHelperProcess is not a test: it is the client that the access
// tests run under another uid.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "calls" {
		return
	}
	os.Exit(helperCalls(os.Stdout, os.Getenv(helperBusEnv), os.Getenv(helperNameEnv)))
}

// helperCalls calls every method once and prints one JSON line per call.
func helperCalls(w io.Writer, addr, name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enc := json.NewEncoder(w)
	enc.Encode(helperResult{Call: "uid", OK: true, Result: strconv.Itoa(os.Getuid())})
	conn, err := dbus.Connect(addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "connecting to %s: %v\n", addr, err)
		return 3
	}
	defer conn.Close()
	c, err := NewClient(ctx, conn, name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "NewClient: %v\n", err)
		return 3
	}
	calls := []struct {
		name string
		call func() (string, error)
	}{
		{"Upgrade", func() (string, error) { gen, err := c.Upgrade(ctx); return strconv.Itoa(gen), err }},
		{"Detach", func() (string, error) { gen, err := c.Detach(ctx, 1); return strconv.Itoa(gen), err }},
		{"Retire", func() (string, error) { return "", c.Retire(ctx, 1, true) }},
		{"ListSessions", func() (string, error) { ss, err := c.Sessions(ctx); return strconv.Itoa(len(ss)), err }},
		{"EndSession", func() (string, error) { return "", c.EndSession(ctx, "3f9a0c00000000000000000000000001") }},
		{"ListGenerations", func() (string, error) { gens, err := c.Generations(ctx); return strconv.Itoa(len(gens)), err }},
		{"GetTrial", func() (string, error) { gen, _, err := c.Trial(ctx); return strconv.Itoa(gen), err }},
		{"Properties", func() (string, error) {
			p, err := c.Properties(ctx)
			return fmt.Sprintf("%s %d", p.App, p.ActiveGeneration), err
		}},
	}
	for _, call := range calls {
		res, err := call.call()
		r := helperResult{Call: call.name, OK: err == nil, Result: res}
		if err != nil {
			r.Name, r.Msg, r.Result = NameOf(err), err.Error(), ""
		}
		enc.Encode(r)
	}
	return 0
}

// helperBinary copies the test binary where any uid may run it: go test
// builds it in a directory only its owner may enter.
func helperBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "gwtest-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(dir, "dbusapi.test")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// runHelper runs the helper as cred against g and returns its results
// by call.
func runHelper(t *testing.T, g *gateway, bin string, cred *syscall.Credential) map[string]helperResult {
	t.Helper()
	cmd := exec.CommandContext(testContext(t), bin, "-test.run=^TestHelperProcess$", "-test.timeout=60s")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"GORACE=atexit_sleep_ms=0", // a -race binary otherwise waits 1s at exit
		helperEnv + "=calls",
		helperBusEnv + "=" + g.bus.Address,
		helperNameEnv + "=" + g.name,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper as uid %d: %v\nstdout:\n%s\nstderr:\n%s", cred.Uid, err, out, stderr.String())
	}
	res := map[string]helperResult{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the test binary's own PASS
		}
		var r helperResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("helper output %q: %v", line, err)
		}
		res[r.Call] = r
	}
	if got, want := res["uid"].Result, strconv.FormatUint(uint64(cred.Uid), 10); got != want {
		t.Fatalf("helper uid: got %q, want %q\nstdout:\n%s", got, want, out)
	}
	return res
}

// needRoot skips tests that run a client under another uid.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root may run the client under another uid")
	}
}

// refused are the methods only root, the gateway's user and the admin
// group may call, with the verb the refusal names.
var refused = []struct{ call, verb string }{
	{"Upgrade", "upgrade"},
	{"Detach", "detach"},
	{"Retire", "retire"},
	{"ListSessions", "list sessions"},
	{"EndSession", "end sessions"},
}

// checkRefused checks that uid was refused every mutating call with a
// message naming the uid and group, and could read the rest.
func checkRefused(t *testing.T, res map[string]helperResult, uid uint32, group string) {
	t.Helper()
	for _, r := range refused {
		t.Run(r.call, func(t *testing.T) {
			got := res[r.call]
			if got.OK {
				t.Fatalf("got success (%q), want %s", got.Result, ErrNameAccessDenied)
			}
			if got.Name != ErrNameAccessDenied {
				t.Errorf("error name: got %q, want %q (message %q)", got.Name, ErrNameAccessDenied, got.Msg)
			}
			for _, want := range []string{fmt.Sprintf("uid %d", uid), "may not " + r.verb, group} {
				if !strings.Contains(got.Msg, want) {
					t.Errorf("message: got %q, want it to contain %q", got.Msg, want)
				}
			}
		})
	}
	for _, c := range []struct{ call, want string }{
		{"ListGenerations", "3"},
		{"GetTrial", "0"}, // no canary, but asked
		{"Properties", "notes 2"},
	} {
		t.Run(c.call, func(t *testing.T) {
			got := res[c.call]
			if !got.OK || got.Result != c.want {
				t.Errorf("got ok=%t %q (%s: %s), want ok=true %q", got.OK, got.Result, got.Name, got.Msg, c.want)
			}
		})
	}
}

func TestAccessDeniedForNobody(t *testing.T) {
	needRoot(t)
	g := newGateway(t, "", Options{}) // AdminGroup: the default, gateway-admin
	g.core.set(func(f *fakeCore) {
		f.gens, f.sessions, f.upgradeGen, f.detachGen = sampleGenerations(), sampleSessions(), 4, 4
	})
	g.srv.Refresh(testContext(t))
	g.core.resetCalls()

	res := runHelper(t, g, helperBinary(t), &syscall.Credential{Uid: 65534, Gid: 65534})
	checkRefused(t, res, 65534, "gateway-admin")
	// The Core never saw a refused call: only the listing and the trial
	// (read from a listing) went through.
	if got, want := g.core.Calls(), []string{"Generations", "Generations"}; !slices.Equal(got, want) {
		t.Errorf("Core calls: got %q, want %q", got, want)
	}
	if logs := g.logs.String(); !strings.Contains(logs, "refused a caller") || !strings.Contains(logs, "uid=65534") {
		t.Errorf("logs: got %q, want a warning naming uid 65534", logs)
	}
}

// testUser creates a system group and a user in it (primary group
// nogroup), removed when the test ends.
func testUser(t *testing.T) (name, group string, uid, gid uint32) {
	t.Helper()
	for _, tool := range []string{"groupadd", "useradd", "userdel", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install the Debian package passwd", tool)
		}
	}
	suffix := strconv.FormatUint(uint64(rand.Uint32()), 36)
	group, name = "gwtest-admin-"+suffix, "gwtest-"+suffix
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("groupadd", "--system", group)
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	run("useradd", "--system", "--no-create-home", "-g", "nogroup", "-G", group, name)
	t.Cleanup(func() { exec.Command("userdel", name).Run() })

	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	gr, err := user.LookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	u64, _ := strconv.ParseUint(u.Uid, 10, 32)
	g64, _ := strconv.ParseUint(gr.Gid, 10, 32)
	return name, group, uint32(u64), uint32(g64)
}

func TestAccessAdminGroup(t *testing.T) {
	needRoot(t)
	_, group, uid, gid := testUser(t)
	g := newGateway(t, "", Options{AdminGroup: group})
	g.core.set(func(f *fakeCore) {
		f.gens, f.sessions, f.upgradeGen, f.detachGen = sampleGenerations(), sampleSessions(), 4, 4
	})
	g.srv.Refresh(testContext(t))
	bin := helperBinary(t)

	t.Run("member", func(t *testing.T) {
		g.core.resetCalls()
		res := runHelper(t, g, bin, &syscall.Credential{Uid: uid, Gid: 65534, Groups: []uint32{gid}})
		want := map[string]string{
			"Upgrade": "4", "Detach": "4", "Retire": "", "ListSessions": "2", "EndSession": "",
			"ListGenerations": "3", "GetTrial": "0", "Properties": "notes 2",
		}
		for call, w := range want {
			if got := res[call]; !got.OK || got.Result != w {
				t.Errorf("%s: got ok=%t %q (%s: %s), want ok=true %q", call, got.OK, got.Result, got.Name, got.Msg, w)
			}
		}
		wantCalls := []string{"Upgrade", "Detach 1", "Retire 1 true", "Sessions", "EndSession 3f9a0c00000000000000000000000001", "Generations", "Generations"}
		if got := g.core.Calls(); !slices.Equal(got, wantCalls) {
			t.Errorf("Core calls: got %q, want %q", got, wantCalls)
		}
	})
	t.Run("admin group is the primary group", func(t *testing.T) {
		name := "gwtest-p" + strconv.FormatUint(uint64(rand.Uint32()), 36)
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "-g", group, name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("userdel", name).Run() })
		u, err := user.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		puid, _ := strconv.ParseUint(u.Uid, 10, 32)
		g.core.resetCalls()
		res := runHelper(t, g, bin, &syscall.Credential{Uid: uint32(puid), Gid: gid})
		for _, r := range refused {
			if got := res[r.call]; !got.OK {
				t.Errorf("%s: got %s: %s, want success", r.call, got.Name, got.Msg)
			}
		}
	})
	t.Run("not a member", func(t *testing.T) {
		g.core.resetCalls()
		res := runHelper(t, g, bin, &syscall.Credential{Uid: 65534, Gid: 65534})
		checkRefused(t, res, 65534, group)
		if got, want := g.core.Calls(), []string{"Generations", "Generations"}; !slices.Equal(got, want) {
			t.Errorf("Core calls: got %q, want %q", got, want)
		}
	})
}

// TestAccessOwnUser: a client with the gateway's own uid (root here, or
// whoever runs the tests) may call everything, admin group or not.
func TestAccessOwnUser(t *testing.T) {
	g := newGateway(t, "", Options{AdminGroup: "gwtest-no-such-group"})
	ctx := testContext(t)
	if _, err := g.client.Upgrade(ctx); err != nil {
		t.Errorf("Upgrade as uid %d: got %v, want success", os.Getuid(), err)
	}
	if _, err := g.client.Sessions(ctx); err != nil {
		t.Errorf("ListSessions as uid %d: got %v, want success", os.Getuid(), err)
	}
}
