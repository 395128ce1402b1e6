package pinstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/tests/gwtest"
)

var hasher, _ = proxy.NewHasher([]byte("pinstore test secret, 32 bytes!!"))

func newProxy(testing.TB) *proxy.Proxy {
	// A day of idle timeout, so that tests can add pins the store's hour
	// of idle timeout does not load.
	p, err := proxy.New(proxy.Options{Hasher: hasher, IdleTimeout: 24 * time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	return p
}

func key(i int) fleet.SessionKey { return hasher.Key(fmt.Sprint("session-", i)) }

// pin adds or moves pins i in [from, to) to gen, last seen at seen.
func pin(p *proxy.Proxy, from, to, gen int, seen time.Time) {
	var ps []fleet.Pin
	for i := from; i < to; i++ {
		ps = append(ps, fleet.Pin{Key: key(i), Generation: gen, Instance: 1 + i%2, LastSeen: seen})
	}
	p.RestorePins(ps)
}

type logBuffer = gwtest.SyncBuffer

func open(t testing.TB, path string, p *proxy.Proxy, logs *logBuffer) *Store {
	t.Helper()
	var h slog.Handler = slog.DiscardHandler
	if logs != nil {
		h = slog.NewTextHandler(logs, nil)
	}
	s, err := Open(Options{Path: path, App: "notes", Table: p, IdleTimeout: time.Hour, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pinsOf reads path into a new proxy and returns its pins by key.
func pinsOf(t testing.TB, path string) map[fleet.SessionKey]fleet.Pin {
	t.Helper()
	p := newProxy(t)
	s := open(t, path, p, nil)
	if s.f != nil {
		s.f.Close()
	}
	out := map[fleet.SessionKey]fleet.Pin{}
	for _, pn := range p.Pins() {
		out[pn.Key] = pn
	}
	return out
}

func write(t testing.TB, s *Store) {
	t.Helper()
	if err := s.step(); err != nil {
		t.Fatal(err)
	}
	s.done(nil)
}

func TestChangesSurviveAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.pins")
	p := newProxy(t)
	s := open(t, path, p, nil)
	seen := time.Now().Truncate(time.Second)
	pin(p, 0, 1000, 1, seen)
	write(t, s)
	pin(p, 0, 100, 2, seen.Add(time.Second)) // moved by an upgrade
	for i := 100; i < 150; i++ {
		p.EndSession(key(i))
	}
	write(t, s)
	got := pinsOf(t, path)
	if len(got) != 950 {
		t.Fatalf("reopened with %d pins, want 950", len(got))
	}
	for i := range 1000 {
		pn, ok := got[key(i)]
		switch {
		case i >= 100 && i < 150:
			if ok {
				t.Fatalf("pin %d ended but came back", i)
			}
		case !ok:
			t.Fatalf("pin %d lost", i)
		case i < 100 && (pn.Generation != 2 || !pn.LastSeen.Equal(seen.Add(time.Second))):
			t.Fatalf("pin %d: %+v, want generation 2 seen %v", i, pn, seen.Add(time.Second))
		case i >= 150 && (pn.Generation != 1 || pn.Instance != 1+i%2 || !pn.LastSeen.Equal(seen)):
			t.Fatalf("pin %d: %+v, want generation 1 instance %d seen %v", i, pn, 1+i%2, seen)
		}
	}
	if st := s.Status(); st.Bytes != fileSize(t, path) || st.LastWrite.IsZero() || st.Error != "" {
		t.Errorf("status %+v, want the file's size %d and a last write", st, fileSize(t, path))
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestIdlePinsAreNotLoaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.pins")
	p := newProxy(t)
	s := open(t, path, p, nil)
	pin(p, 0, 10, 1, time.Now().Add(-2*time.Hour)) // the options' idle timeout is 1h
	pin(p, 10, 20, 1, time.Now())
	write(t, s)
	if got := pinsOf(t, path); len(got) != 10 {
		t.Errorf("loaded %d pins, want the 10 seen within the idle timeout", len(got))
	}
}

// The log is rewritten from the live pins once it is twice their size (and
// at least minCompact), so its size follows the pins, not the history.
func TestCompactionKeepsTheFileProportionalToThePins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.pins")
	p := newProxy(t)
	s := open(t, path, p, nil)
	now := time.Now()
	const n = 2000
	for round := range 40 { // 40 × 2000 records × 40 B = 3.2 MB of history
		pin(p, 0, n, 1+round%3, now)
		write(t, s)
		if size := fileSize(t, path); size > max(2*(headerSize("notes")+n*recordSize), minCompact)+n*recordSize {
			t.Fatalf("round %d: file of %d bytes for %d pins", round, size, n)
		}
	}
	if c := s.Compactions(); c < 1 {
		t.Fatalf("%d compactions, want at least 1", c)
	}
	got := pinsOf(t, path)
	if len(got) != n || got[key(7)].Generation != 1+39%3 {
		t.Errorf("after compactions: %d pins, key 7 on %d; want %d on %d", len(got), got[key(7)].Generation, n, 1+39%3)
	}
}

// A crash can stop a write at any byte. Whatever the offset, the file opens,
// every change written before the interrupted one is there, and each pin is
// as the last complete write or the interrupted one left it.
func TestACrashAtAnyByteLosesAtMostTheLastWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.pins")
	p := newProxy(t)
	s := open(t, path, p, nil)
	now := time.Now().Truncate(time.Second)
	var states []map[fleet.SessionKey]fleet.Pin // after each write
	var ends []int64                            // the file's size after each write
	snapshot := func() {
		m := map[fleet.SessionKey]fleet.Pin{}
		for _, pn := range p.Pins() {
			m[pn.Key] = pn
		}
		states, ends = append(states, m), append(ends, fileSize(t, path))
	}
	write(t, s) // the header only
	snapshot()
	pin(p, 0, 20, 1, now)
	write(t, s)
	snapshot()
	pin(p, 10, 30, 2, now.Add(time.Second))
	for i := 0; i < 5; i++ {
		p.EndSession(key(i))
	}
	write(t, s)
	snapshot()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pins")
	for off := int(ends[0]); off <= len(full); off++ {
		if err := os.WriteFile(cut, full[:off], 0o600); err != nil {
			t.Fatal(err)
		}
		got := pinsOf(t, cut)
		k := 0 // the last write complete at off
		for k+1 < len(ends) && ends[k+1] <= int64(off) {
			k++
		}
		next := states[min(k+1, len(states)-1)]
		for key, want := range states[k] {
			if pn, ok := got[key]; !ok && next[key] == (fleet.Pin{}) {
				continue // ended by the interrupted write
			} else if !ok || !samePin(pn, want) && !samePin(pn, next[key]) {
				t.Fatalf("cut at %d: pin %v is %+v (present %v), want %+v or %+v", off, key, pn, ok, want, next[key])
			}
		}
		for key, pn := range got {
			if _, ok := states[k][key]; !ok && !samePin(pn, next[key]) {
				t.Fatalf("cut at %d: pin %v is %+v, which no write made", off, key, pn)
			}
		}
	}
}

func samePin(a, b fleet.Pin) bool {
	return a.Key == b.Key && a.Generation == b.Generation && a.Instance == b.Instance && a.LastSeen.Equal(b.LastSeen)
}

// A damaged record ends what is read; the next write rewrites the file whole.
func TestADamagedRecordEndsTheFileAndIsRewritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.pins")
	p := newProxy(t)
	s := open(t, path, p, nil)
	pin(p, 0, 10, 1, time.Now())
	write(t, s)
	data, _ := os.ReadFile(path)
	data[headerSize("notes")+4*recordSize+9] ^= 0x40 // inside record 4
	os.WriteFile(path, data, 0o600)
	var logs logBuffer
	p2 := newProxy(t)
	s2 := open(t, path, p2, &logs)
	if n := p2.PinCount(); n != 4 {
		t.Fatalf("loaded %d pins, want the 4 before the damage", n)
	}
	if !strings.Contains(logs.String(), "damaged or partial record") || !strings.Contains(logs.String(), "bytes_ignored=240") {
		t.Errorf("log %q: want a warning with the bytes ignored", logs.String())
	}
	write(t, s2)
	if size := fileSize(t, path); size != headerSize("notes")+4*recordSize {
		t.Errorf("after the first write: %d bytes, want the 4 pins rewritten (%d)", size, headerSize("notes")+4*recordSize)
	}
}

func TestForeignFilesAreRefusedAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	other := appendHeader(nil, "wiki")
	v2 := appendHeader(nil, "notes")
	v2[len(magic)] = 2
	badCRC := appendHeader(nil, "notes")
	badCRC[len(badCRC)-1] ^= 1
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"other app", other, `the pins of app "wiki", and this gateway runs app "notes"`},
		{"newer version", v2, "pin store version 2, this gateway reads version 1"},
		{"json", []byte(`{"version": 1, "pins": []}`), "not a pin store"},
		{"empty", nil, "not a pin store"},
		{"cut header", appendHeader(nil, "notes")[:9], "not a pin store"},
		{"cut app", appendHeader(nil, "notes")[:12], "cut short"},
		{"header checksum", badCRC, "fails its checksum"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			os.WriteFile(path, c.data, 0o600)
			_, err := Open(Options{Path: path, App: "notes", Table: newProxy(t)})
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open: %v; want ErrRefused naming %s and saying %q", err, path, c.want)
			}
			if data, _ := os.ReadFile(path); !bytes.Equal(data, c.data) {
				t.Error("the refused file was changed")
			}
		})
	}
}

// A failing write is retried with a growing back-off and logged once per
// distinct error; the status shows it; the first success is logged.
func TestFailingWritesBackOffAndAreLoggedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	os.Mkdir(dir, 0o755)
	path := filepath.Join(dir, "notes.pins")
	var logs logBuffer
	p := newProxy(t)
	s := open(t, path, p, &logs)
	s.o.Interval, s.o.MaxBackoff = time.Second, 4*time.Second
	calls := 0
	s.o.OnError = func() { calls++ }
	pin(p, 0, 10, 1, time.Now())
	os.RemoveAll(dir) // the runtime directory vanished before the first write
	var backoffs []time.Duration
	for range 5 {
		pin(p, 10, 20, 1, time.Now())
		s.done(s.step())
		backoffs = append(backoffs, s.backoff)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}; !equalDurations(backoffs, want) {
		t.Errorf("back-offs %v, want %v", backoffs, want)
	}
	st := s.Status()
	if st.WriteFailures != 5 || !strings.Contains(st.Error, "no such file or directory") {
		t.Errorf("status %+v: want 5 failures and the error", st)
	}
	if n := strings.Count(logs.String(), "writing the pins failed"); n != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", n, logs.String())
	}
	os.Mkdir(dir, 0o755)
	s.done(s.step())
	if st := s.Status(); st.Error != "" || st.WriteFailures != 5 {
		t.Errorf("after recovery: status %+v, want no error and 5 failures counted", st)
	}
	if !strings.Contains(logs.String(), "writing the pins works again") || !strings.Contains(logs.String(), "failures=5") {
		t.Errorf("recovery not logged with its count:\n%s", logs.String())
	}
	if got := pinsOf(t, path); len(got) != 20 {
		t.Errorf("after recovery the file holds %d pins, want 20", len(got))
	}
	if calls != 2 {
		t.Errorf("OnError called %d times, want 2 (failing, then working again)", calls)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
