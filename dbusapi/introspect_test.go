package dbusapi

import (
	"encoding/xml"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5/introspect"
)

func TestIntrospect(t *testing.T) {
	g := newGateway(t, "", Options{})
	var data string
	obj := g.bus.Conn(t).Object(g.name, Path)
	if err := obj.CallWithContext(testContext(t), "org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&data); err != nil {
		t.Fatalf("Introspect: %v", err)
	}
	for _, want := range []string{`name="` + Interface + `"`, `name="generation"`, `name="force"`, `name="hash"`} {
		if !strings.Contains(data, want) {
			t.Errorf("the XML does not contain %s:\n%s", want, data)
		}
	}
	var node introspect.Node
	if err := xml.Unmarshal([]byte(data), &node); err != nil {
		t.Fatalf("parsing the XML: %v\n%s", err, data)
	}
	var ifaces []string
	var api *introspect.Interface
	for i, in := range node.Interfaces {
		ifaces = append(ifaces, in.Name)
		if in.Name == Interface {
			api = &node.Interfaces[i]
		}
	}
	for _, want := range []string{Interface, "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Introspectable"} {
		if !slices.Contains(ifaces, want) {
			t.Errorf("interfaces: got %q, want %s among them", ifaces, want)
		}
	}
	if api == nil {
		t.Fatalf("no %s interface in:\n%s", Interface, data)
	}

	t.Run("methods", func(t *testing.T) {
		// name → "direction name type" per argument, in order
		want := map[string][]string{
			"Upgrade":         {"out generation u"},
			"Detach":          {"in generation u", "out replacement u"},
			"Retire":          {"in generation u", "in force b"},
			"ListGenerations": {"out generations a(usssauuuuttt)"},
			"GetTrial": {"out running b", "out generation u", "out share d", "out started_usec t", "out canary (ttt)",
				"out active (ttt)", "out judged b", "out judge (tddtt)", "out verdict s"},
			"ListSessions":  {"out sessions a(suuu)"},
			"EndSession":    {"in hash s"},
			"Rollback":      {"in move_sessions b", "out restored u"},
			"UpgradeCanary": {"in percent d", "out canary u"},
			"Promote":       {"out promoted u"},
			"Abort":         {"in move_sessions b", "out aborted u"},
		}
		got := map[string][]string{}
		for _, m := range api.Methods {
			args := []string{}
			for _, a := range m.Args {
				args = append(args, a.Direction+" "+a.Name+" "+a.Type)
			}
			got[m.Name] = args
		}
		for name, w := range want {
			if !slices.Equal(got[name], w) {
				t.Errorf("%s: got %q, want %q", name, got[name], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("methods: got %d (%v), want %d", len(got), got, len(want))
		}
	})
	t.Run("signal", func(t *testing.T) {
		if len(api.Signals) != 1 {
			t.Fatalf("signals: got %d, want 1 (GenerationChanged)", len(api.Signals))
		}
		s := api.Signals[0]
		var args []string
		for _, a := range s.Args {
			args = append(args, a.Name+" "+a.Type)
		}
		want := []string{"generation u", "state s", "revision s"}
		if s.Name != "GenerationChanged" || !slices.Equal(args, want) {
			t.Errorf("got %s%q, want GenerationChanged%q", s.Name, args, want)
		}
	})
	t.Run("properties", func(t *testing.T) {
		want := map[string]string{ // name → "type access emits"
			"App":              "s read const",
			"Version":          "s read const",
			"ActiveGeneration": "u read true",
			"Revision":         "s read true",
			"Generations":      "u read true",
			"Sessions":         "u read true",
			// The pin store: only a change of its error is announced.
			"PinStorePath":          "s read false",
			"PinStoreBytes":         "t read false",
			"PinStoreLastWriteUSec": "t read false",
			"PinStoreError":         "s read true",
			"PinStoreWriteFailures": "t read false",
			"Listeners":             "a(ssbbbqa(sast)) read true",
		}
		got := map[string]string{}
		for _, p := range api.Properties {
			emits := ""
			for _, a := range p.Annotations {
				if a.Name == "org.freedesktop.DBus.Property.EmitsChangedSignal" {
					emits = a.Value
				}
			}
			got[p.Name] = p.Type + " " + p.Access + " " + emits
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: got %q, want %q", name, got[name], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("properties: got %v, want %v", got, want)
		}
	})
}

// busctl runs busctl against the private bus. It is part of systemd; the
// test skips without it.
func busctl(t *testing.T, g *gateway, args ...string) (string, error) {
	t.Helper()
	exe, err := exec.LookPath("busctl")
	if err != nil {
		t.Skip("busctl not found: install systemd")
	}
	cmd := exec.CommandContext(testContext(t), exe, append([]string{"--address=" + g.bus.Address, "--no-pager"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

func TestBusctl(t *testing.T) {
	g := newGateway(t, "", Options{})
	g.core.set(func(f *fakeCore) { f.gens = sampleGenerations()[:2] })
	g.srv.Refresh(testContext(t))

	t.Run("introspect", func(t *testing.T) {
		out, err := busctl(t, g, "introspect", g.name, string(Path))
		if err != nil {
			t.Fatalf("busctl introspect: %v\n%s", err, out)
		}
		for _, want := range []string{
			`^` + Interface + `\s+interface\s+-\s+-\s+-$`,
			`^\.Upgrade\s+method\s+-\s+u\s+-$`,
			`^\.Detach\s+method\s+u\s+u\s+-$`,
			`^\.Retire\s+method\s+ub\s+-\s+-$`,
			`^\.ListGenerations\s+method\s+-\s+a\(usssauuuuttt\)\s+-$`,
			`^\.ListSessions\s+method\s+-\s+a\(suuu\)\s+-$`,
			`^\.GetTrial\s+method\s+-\s+budt\(ttt\)\(ttt\)b\(tddtt\)s\s+-$`,
			`^\.EndSession\s+method\s+s\s+-\s+-$`,
			`^\.GenerationChanged\s+signal\s+uss\s+-\s+-$`,
			`^\.App\s+property\s+s\s+"notes"\s+const$`,
			`^\.Version\s+property\s+s\s+"1\.2\.3"\s+const$`,
			`^\.ActiveGeneration\s+property\s+u\s+2\s+emits-change$`,
			`^\.Revision\s+property\s+s\s+"r2 \(release 2024-05-01\)"\s+emits-change$`,
			`^\.Generations\s+property\s+u\s+2\s+emits-change$`,
			`^\.Sessions\s+property\s+u\s+8\s+emits-change$`,
		} {
			if !regexp.MustCompile(`(?m)` + want).MatchString(out) {
				t.Errorf("busctl introspect: no line matching %s in:\n%s", want, out)
			}
		}
	})
	t.Run("tree", func(t *testing.T) {
		out, err := busctl(t, g, "tree", g.name)
		if err != nil {
			t.Fatalf("busctl tree: %v\n%s", err, out)
		}
		if !strings.Contains(out, string(Path)+"\n") {
			t.Errorf("busctl tree: got %q, want %s in it", out, Path)
		}
	})
	t.Run("call ListGenerations", func(t *testing.T) {
		out, err := busctl(t, g, "call", g.name, string(Path), Interface, "ListGenerations")
		if err != nil {
			t.Fatalf("busctl call: %v\n%s", err, out)
		}
		want := `a(usssauuuuttt) 2 ` +
			`1 "detached" "r1" "gateway-gen1.scope" 2 100 101 3 1 2 1700000000000000 1700000100000000 1700003700000000 ` +
			`2 "active" "r2 (release 2024-05-01)" "gateway-gen2.scope" 2 200 4294967295 5 4294967295 0 253402300799999999 0 0` + "\n"
		if out != want {
			t.Errorf("busctl call ListGenerations:\ngot  %q\nwant %q", out, want)
		}
	})
	t.Run("call GetTrial", func(t *testing.T) {
		// The reply's signature is the one the XML promises, and without
		// a canary every field is zero.
		out, err := busctl(t, g, "call", g.name, string(Path), Interface, "GetTrial")
		if err != nil {
			t.Fatalf("busctl call: %v\n%s", err, out)
		}
		if want := `budt(ttt)(ttt)b(tddtt)s false 0 0 0 0 0 0 0 0 0 false 0 0 0 0 0 ""` + "\n"; out != want {
			t.Errorf("busctl call GetTrial without a canary:\ngot  %q\nwant %q", out, want)
		}
		g.core.set(func(f *fakeCore) { f.gens = withCanary(sampleTrial()) })
		defer g.core.set(func(f *fakeCore) { f.gens = sampleGenerations()[:2] })
		out, err = busctl(t, g, "call", g.name, string(Path), Interface, "GetTrial")
		if err != nil {
			t.Fatalf("busctl call: %v\n%s", err, out)
		}
		want := `budt(ttt)(ttt)b(tddtt)s true 3 0.125 1700000200000001 250 1 40960 18446744073709551615 2 36000 ` +
			`true 200 0.01 0.5 10000 1800000000 "within the margins so far: 5xx 0.40% against 0.00%"` + "\n"
		if out != want {
			t.Errorf("busctl call GetTrial:\ngot  %q\nwant %q", out, want)
		}
	})
	t.Run("call ListSessions", func(t *testing.T) {
		// The reply's signature is the one the XML promises.
		g.core.set(func(f *fakeCore) { f.sessions = sampleSessions() })
		out, err := busctl(t, g, "call", g.name, string(Path), Interface, "ListSessions")
		if err != nil {
			t.Fatalf("busctl call: %v\n%s", err, out)
		}
		want := `a(suuu) 2 "3f9a0c00000000000000000000000001" 1 1 0 "77e0b200000000000000000000000002" 2 3 4294967295` + "\n"
		if out != want {
			t.Errorf("busctl call ListSessions:\ngot  %q\nwant %q", out, want)
		}
	})
	t.Run("call Retire", func(t *testing.T) {
		g.core.resetCalls()
		out, err := busctl(t, g, "call", g.name, string(Path), Interface, "Retire", "ub", "1", "true")
		if err != nil {
			t.Fatalf("busctl call Retire: %v\n%s", err, out)
		}
		if got, want := g.core.Calls(), []string{"Retire 1 true"}; !slices.Equal(got, want) {
			t.Errorf("Core calls: got %q, want %q", got, want)
		}
	})
	t.Run("call Upgrade", func(t *testing.T) {
		g.core.set(func(f *fakeCore) { f.upgradeGen, f.upgradeErr = 3, nil })
		out, err := busctl(t, g, "call", g.name, string(Path), Interface, "Upgrade")
		if err != nil {
			t.Fatalf("busctl call Upgrade: %v\n%s", err, out)
		}
		if want := "u 3\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})
	t.Run("a failed call shows the message", func(t *testing.T) {
		g.core.set(func(f *fakeCore) {
			f.upgradeErr = errors.New("generation 3 never became ready: exit status 1; generation 2 still serves")
		})
		out, err := busctl(t, g, "call", g.name, string(Path), Interface, "Upgrade")
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("busctl call Upgrade: got %v, want a non-zero exit\n%s", err, out)
		}
		if want := "generation 3 never became ready: exit status 1; generation 2 still serves"; !strings.Contains(out, want) {
			t.Errorf("busctl output: got %q, want it to contain %q", out, want)
		}
	})
}
