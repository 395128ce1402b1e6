package console

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestBackoffDoubles(t *testing.T) {
	lim := Limits{Free: 3, Base: time.Second, MaxWait: 10 * time.Second}.withDefaults()
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, lim.wait(n))
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits after 1–8 failures: got %v, want %v", got, want)
	}
	if w := lim.wait(1000); w != lim.MaxWait {
		t.Errorf("after 1000 failures: got %s, want the cap %s", w, lim.MaxWait)
	}
}

// The table of sources stays within Limits.Sources however many sources
// fail: the one that failed longest ago goes first.
func TestThrottleTableBounded(t *testing.T) {
	th := newThrottle(Limits{Sources: 100, Burst: 10_000})
	for i := range 1000 {
		if _, ok := th.admit(fmt.Sprintf("10.0.%d.%d", i>>8, i&255), t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if len(th.sources) != 100 {
		t.Errorf("sources: got %d, want 100", len(th.sources))
	}
	if th.sources["10.0.0.0"] != nil || th.sources["10.0.3.231"] == nil {
		t.Error("want the oldest sources dropped and the newest kept")
	}
}

// A success forgets the source's failures; so does a day without one.
func TestThrottleForgets(t *testing.T) {
	th := newThrottle(Limits{Free: 2})
	fail := func(at time.Time) bool { _, ok := th.admit("192.0.2.1", at); return ok }
	for range 2 {
		fail(t0)
	}
	if fail(t0) {
		t.Fatal("third failure at once: admitted, want a wait")
	}
	th.succeeded("192.0.2.1")
	if !fail(t0) {
		t.Error("after a success: refused, want a fresh start")
	}
	fail(t0)
	if fail(t0.Add(th.lim.Forget-time.Second)) != true {
		t.Fatal("after the wait: refused")
	}
	if fail(t0.Add(th.lim.Forget)) {
		t.Error("within the wait: admitted")
	}
	if !fail(t0.Add(2*th.lim.Forget)) || th.sources["192.0.2.1"].failures != 1 {
		t.Errorf("a day after the last failure: want a fresh start, got %+v", th.sources["192.0.2.1"])
	}
}

func TestSourceOf(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:5000":              "192.0.2.1",
		"[::ffff:192.0.2.1]:5000":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:5000": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:5000": "2001:db8:1:2::/64",
		"@":                           "local",
		"":                            "local",
	} {
		if got := sourceOf(addr); got != want {
			t.Errorf("sourceOf(%q): got %q, want %q", addr, got, want)
		}
	}
}
