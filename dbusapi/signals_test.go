package dbusapi

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gatewayd/gateway/fleet"
)

// markerIface is a signal the test makes the server's connection emit
// after a Refresh: the bus keeps one sender's messages in order, so once
// the marker arrives, every signal of that Refresh has arrived too.
const markerIface = "org.gatewayd.Test"

// watcher receives the gateway's signals on a connection of its own.
type watcher struct {
	g       *gateway
	ch      chan *dbus.Signal
	markers int
}

func newWatcher(t *testing.T, g *gateway) *watcher {
	t.Helper()
	conn := g.bus.Conn(t)
	rules := [][]dbus.MatchOption{
		{dbus.WithMatchObjectPath(Path), dbus.WithMatchInterface("org.freedesktop.DBus.Properties"), dbus.WithMatchMember("PropertiesChanged")},
		{dbus.WithMatchObjectPath(Path), dbus.WithMatchInterface(Interface), dbus.WithMatchMember("GenerationChanged")},
		{dbus.WithMatchObjectPath(Path), dbus.WithMatchInterface(markerIface)},
	}
	for _, r := range rules {
		if err := conn.AddMatchSignal(r...); err != nil {
			t.Fatalf("AddMatchSignal: %v", err)
		}
	}
	w := &watcher{g: g, ch: make(chan *dbus.Signal, 256)}
	conn.Signal(w.ch)
	return w
}

// collect returns the signals the gateway has emitted since the last
// collect, waiting (bounded) for a marker sent after them.
func (w *watcher) collect(t *testing.T) []*dbus.Signal {
	t.Helper()
	w.markers++
	member := fmt.Sprintf("Marker%d", w.markers)
	if err := w.g.conn.Emit(Path, markerIface+"."+member); err != nil {
		t.Fatalf("emitting the marker: %v", err)
	}
	var got []*dbus.Signal
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-w.ch:
			switch {
			case s.Name == markerIface+"."+member:
				return got
			case s.Path == Path && !strings.HasPrefix(s.Name, markerIface+"."):
				got = append(got, s)
			}
		case <-timeout:
			t.Fatalf("no %s signal within 10s (got %d signals before)", member, len(got))
		}
	}
}

// genChange is one GenerationChanged signal.
type genChange struct {
	ID       uint32
	State    string
	Revision string
}

// split sorts signals into the properties that changed (last value wins)
// and the GenerationChanged signals, sorted by generation.
func split(t *testing.T, sigs []*dbus.Signal) (map[string]any, []genChange) {
	t.Helper()
	props := map[string]any{}
	var changes []genChange
	for _, s := range sigs {
		switch s.Name {
		case "org.freedesktop.DBus.Properties.PropertiesChanged":
			var iface string
			var changed map[string]dbus.Variant
			var invalidated []string
			if err := dbus.Store(s.Body, &iface, &changed, &invalidated); err != nil {
				t.Fatalf("PropertiesChanged body %v: %v", s.Body, err)
			}
			if iface != Interface {
				t.Errorf("PropertiesChanged interface: got %q, want %q", iface, Interface)
			}
			if len(invalidated) != 0 {
				t.Errorf("PropertiesChanged invalidated: got %q, want none (values are sent)", invalidated)
			}
			for k, v := range changed {
				props[k] = v.Value()
			}
		case Interface + ".GenerationChanged":
			var c genChange
			if err := dbus.Store(s.Body, &c.ID, &c.State, &c.Revision); err != nil {
				t.Fatalf("GenerationChanged body %v (signature %s): %v", s.Body, dbus.SignatureOf(s.Body...), err)
			}
			changes = append(changes, c)
		default:
			t.Errorf("unexpected signal %s %v", s.Name, s.Body)
		}
	}
	slices.SortFunc(changes, func(a, b genChange) int { return cmp.Compare(a.ID, b.ID) })
	return props, changes
}

func TestRefreshSignals(t *testing.T) {
	g := newGateway(t, "", Options{})
	ctx := testContext(t)
	w := newWatcher(t, g)
	if sigs := w.collect(t); len(sigs) != 0 {
		t.Fatalf("before any Refresh: got %d signals, want none", len(sigs))
	}

	steps := []struct {
		name        string
		gens        []fleet.Generation
		gensErr     error
		wantProps   map[string]any // the PropertiesChanged values
		wantChanges []genChange
		wantAll     Properties // GetAll afterwards
	}{
		{
			name: "first generation active",
			gens: []fleet.Generation{{ID: 1, State: "active", Revision: "r1", Usage: fleet.Usage{Sessions: 2}}},
			wantProps: map[string]any{
				"ActiveGeneration": uint32(1), "Revision": "r1", "Generations": uint32(1), "Sessions": uint32(2),
			},
			wantChanges: []genChange{{1, "active", "r1"}},
			wantAll:     Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 1, Revision: "r1", Generations: 1, Sessions: 2},
		},
		{
			name:      "nothing changed",
			gens:      []fleet.Generation{{ID: 1, State: "active", Revision: "r1", Usage: fleet.Usage{Sessions: 2}}},
			wantProps: map[string]any{},
			wantAll:   Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 1, Revision: "r1", Generations: 1, Sessions: 2},
		},
		{
			name: "upgrade starts generation 2",
			gens: []fleet.Generation{
				{ID: 1, State: "active", Revision: "r1", Usage: fleet.Usage{Sessions: 2}},
				{ID: 2, State: "starting", Revision: "r2"},
			},
			wantProps:   map[string]any{"Generations": uint32(2)},
			wantChanges: []genChange{{2, "starting", "r2"}},
			wantAll:     Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 1, Revision: "r1", Generations: 2, Sessions: 2},
		},
		{
			name: "generation 2 active, 1 detached",
			gens: []fleet.Generation{
				{ID: 1, State: "detached", Revision: "r1", Usage: fleet.Usage{Sessions: 2}},
				{ID: 2, State: "active", Revision: "r2", Usage: fleet.Usage{Sessions: 1}},
			},
			wantProps:   map[string]any{"ActiveGeneration": uint32(2), "Revision": "r2", "Sessions": uint32(3)},
			wantChanges: []genChange{{1, "detached", "r1"}, {2, "active", "r2"}},
			wantAll:     Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 2, Revision: "r2", Generations: 2, Sessions: 3},
		},
		{
			name:        "only sessions changed",
			gens:        []fleet.Generation{{ID: 1, State: "detached", Revision: "r1", Usage: fleet.Usage{Sessions: 1}}, {ID: 2, State: "active", Revision: "r2", Usage: fleet.Usage{Sessions: 1}}},
			wantProps:   map[string]any{"Sessions": uint32(2)},
			wantChanges: nil,
			wantAll:     Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 2, Revision: "r2", Generations: 2, Sessions: 2},
		},
		{
			name:      "the Core fails: nothing is published",
			gens:      nil,
			gensErr:   errors.New("supervisor stopped"),
			wantProps: map[string]any{},
			wantAll:   Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 2, Revision: "r2", Generations: 2, Sessions: 2},
		},
		{
			name: "generation 1 disappears: retired; upgrade to 3",
			gens: []fleet.Generation{
				{ID: 2, State: "detached", Revision: "r2", Usage: fleet.Usage{Sessions: 1}},
				{ID: 3, State: "active", Revision: "r3", Usage: fleet.Usage{Sessions: 0}},
			},
			wantProps: map[string]any{"ActiveGeneration": uint32(3), "Revision": "r3", "Sessions": uint32(1)},
			// Revision of a disappeared generation: see TestRefreshRetiredSignalNamesRevision.
			wantChanges: []genChange{{1, "retired", "*"}, {2, "detached", "r2"}, {3, "active", "r3"}},
			wantAll:     Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 3, Revision: "r3", Generations: 2, Sessions: 1},
		},
		{
			name:      "nothing changed again: nothing emitted",
			gens:      []fleet.Generation{{ID: 2, State: "detached", Revision: "r2", Usage: fleet.Usage{Sessions: 1}}, {ID: 3, State: "active", Revision: "r3", Usage: fleet.Usage{Sessions: 0}}},
			wantProps: map[string]any{},
			wantAll:   Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 3, Revision: "r3", Generations: 2, Sessions: 1},
		},
		{
			name:        "every generation gone",
			gens:        []fleet.Generation{},
			wantProps:   map[string]any{"ActiveGeneration": uint32(0), "Revision": "", "Generations": uint32(0), "Sessions": uint32(0)},
			wantChanges: []genChange{{2, "retired", "*"}, {3, "retired", "*"}},
			wantAll:     Properties{App: "notes", Version: "1.2.3"},
		},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			g.core.set(func(f *fakeCore) { f.gens, f.gensErr = st.gens, st.gensErr })
			g.srv.Refresh(ctx)
			props, changes := split(t, w.collect(t))
			// The listeners are announced once, when first published.
			if _, ok := props["Listeners"]; ok != (i == 0) {
				t.Errorf("Listeners announced: %t, want %t", ok, i == 0)
			}
			delete(props, "Listeners")
			if !maps.Equal(props, st.wantProps) {
				t.Errorf("PropertiesChanged: got %v, want %v", props, st.wantProps)
			}
			for i := range changes {
				if i < len(st.wantChanges) && st.wantChanges[i].Revision == "*" {
					changes[i].Revision = "*"
				}
			}
			if !slices.Equal(changes, st.wantChanges) {
				t.Errorf("GenerationChanged: got %v, want %v", changes, st.wantChanges)
			}
			all, err := g.client.Properties(ctx)
			if err != nil {
				t.Fatalf("Properties: %v", err)
			}
			want := st.wantAll
			want.Listeners = listeners // the fake's, published by the first Refresh
			if !reflect.DeepEqual(all, want) {
				t.Errorf("Properties: got %+v, want %+v", all, want)
			}
		})
	}
}

// TestRefreshRetiredSignalNamesRevision: GenerationChanged(u generation,
// s state, s revision) for a generation that disappeared should name the
// revision it ran, as for every other state change (busctl monitor shows
// "retired" with an empty revision otherwise).
func TestRefreshRetiredSignalNamesRevision(t *testing.T) {
	g := newGateway(t, "", Options{})
	ctx := testContext(t)
	w := newWatcher(t, g)
	g.core.set(func(f *fakeCore) {
		f.gens = []fleet.Generation{{ID: 1, State: "detached", Revision: "r1"}, {ID: 2, State: "active", Revision: "r2"}}
	})
	g.srv.Refresh(ctx)
	w.collect(t)
	g.core.set(func(f *fakeCore) { f.gens = []fleet.Generation{{ID: 2, State: "active", Revision: "r2"}} })
	g.srv.Refresh(ctx)
	_, changes := split(t, w.collect(t))
	want := []genChange{{1, "retired", "r1"}}
	if !slices.Equal(changes, want) {
		t.Fatalf("Refresh forgets the revision of a generation that disappeared: got %v, want %v", changes, want)
	}
}

// TestPropertiesBeforeRefresh: the properties exist (with their zero
// values and the static App and Version) as soon as Export returns.
func TestPropertiesBeforeRefresh(t *testing.T) {
	g := newGateway(t, "", Options{})
	got, err := g.client.Properties(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Properties{App: "notes", Version: "1.2.3", Listeners: []fleet.Listener{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestPropertiesReadOnly: no client can set a property.
func TestPropertiesReadOnly(t *testing.T) {
	g := newGateway(t, "", Options{})
	obj := g.bus.Conn(t).Object(g.name, Path)
	err := obj.CallWithContext(testContext(t), "org.freedesktop.DBus.Properties.Set", 0,
		Interface, "ActiveGeneration", dbus.MakeVariant(uint32(9))).Err
	if err == nil {
		t.Fatal("Set ActiveGeneration: got no error, want one")
	}
	got, err := g.client.Properties(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.ActiveGeneration != 0 {
		t.Errorf("ActiveGeneration after a refused Set: got %d, want 0", got.ActiveGeneration)
	}
}

// TestRefreshConcurrent: Refresh may be called from several goroutines
// while clients read the properties (the race detector judges), and the
// last Refresh wins.
func TestRefreshConcurrent(t *testing.T) {
	g := newGateway(t, "", Options{})
	ctx := testContext(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 20 {
				id := uint32(i*20 + j + 1)
				g.core.set(func(f *fakeCore) {
					f.gens = []fleet.Generation{{ID: int(id), State: "active", Revision: fmt.Sprint("r", id)}}
				})
				g.srv.Refresh(ctx)
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := g.client.Properties(ctx); err != nil {
					t.Errorf("Properties: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	g.core.set(func(f *fakeCore) {
		f.gens = []fleet.Generation{{ID: 500, State: "active", Revision: "r500", Usage: fleet.Usage{Sessions: 1}}}
	})
	g.srv.Refresh(ctx)
	got, err := g.client.Properties(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Properties{App: "notes", Version: "1.2.3", ActiveGeneration: 500, Revision: "r500", Generations: 1, Sessions: 1,
		Listeners: listeners}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
