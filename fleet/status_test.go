package fleet

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/status.json from the sample")

// The status document's contract (`gatewayctl status --json`, the
// console's /api/status) is testdata/status.json: fields are only ever
// added. A change to it is a change of the API; rewrite it with -update
// only on purpose.
func TestStatusDocument(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.In(time.FixedZone("CET", 3600)) // written in UTC whatever the zone
	}
	gens := []Generation{
		{ID: 3, State: Detached, Revision: "2026-11-13", Directory: "/srv/notes/releases/2026-11-13",
			Unit: "gateway-gen3.scope", PIDs: []int{1200}, Usage: Usage{Sessions: 1, InFlight: 2, Upgraded: 3},
			Started: at("2026-11-18T08:00:00Z"), Detached: at("2026-11-20T10:04:05Z"), Deadline: at("2026-11-21T10:04:05Z"),
			Instances: []Instance{{Index: 1, PID: 1200, Ready: true, Network: "unix", Address: "/run/gateway/notes-gen3-1.sock"}}},
		{ID: 4, State: Active, Revision: "2026-11-20", Unit: "gateway-gen4.scope", PIDs: []int{1234, 1235},
			Usage: Usage{Sessions: 12}, Started: at("2026-11-20T10:04:00Z")},
		{ID: 5, State: Canary, Revision: "2026-11-21", Unit: "gateway-gen5.scope", PIDs: []int{1300},
			Usage: Usage{Sessions: 2}, Started: at("2026-11-21T09:00:00Z"), Trial: &Trial{Share: 0.1, Started: at("2026-11-21T09:00:02Z"),
				Canary: Summary{Requests: 250, Errors: 1, P99: 40 * time.Millisecond}, Active: Summary{Requests: 2400, Errors: 2, P99: 36 * time.Millisecond},
				Judge:   &Judge{MinRequests: 200, ErrorMargin: 0.01, LatencyMargin: 0.5, LatencyMin: 10 * time.Millisecond, PromoteAfter: 30 * time.Minute},
				Verdict: "within the margins so far"}},
	}
	st := NewStatus("notes", "1.4.0", gens, PinStore{Path: "/run/gateway/notes.pins", Bytes: 40_200_000,
		LastWrite: at("2026-11-21T09:00:01Z"), Error: "disk full", WriteFailures: 2})
	st.Listeners = []Listener{
		{Address: "127.0.0.1:8080", Certificates: []Certificate{}},
		{Name: "https", Address: "0.0.0.0:443", TLS: true, HTTP2: true, ProxyProtocol: true, Certificates: []Certificate{
			{File: "/etc/ssl/site/fullchain.pem", Names: []string{"site.test", "www.site.test"}, NotAfter: at("2027-02-01T09:00:00Z")}}},
		{Name: "plain", Address: "0.0.0.0:80", RedirectHTTPS: 443, Certificates: []Certificate{}},
	}
	got, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/status.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the status document changed:\ngot\n%s\nwant (%s)\n%s", got, golden, want)
	}
	// It reads back as it was, in UTC.
	var back Status
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Generations) != 3 || !back.Generations[0].Deadline.Equal(gens[0].Deadline) ||
		back.Generations[0].Deadline.Location() != time.UTC || back.Generations[0].Directory != "" {
		t.Errorf("read back: %+v", back.Generations)
	}
	if tr := back.Generations[2].Trial; tr == nil || tr.Canary != gens[2].Trial.Canary || *tr.Judge != *gens[2].Trial.Judge ||
		!tr.Started.Equal(gens[2].Trial.Started) {
		t.Errorf("the canary's trial read back: %+v", tr)
	}
	// No generation: an empty array, and no pin store: null.
	empty, _ := json.Marshal(NewStatus("notes", "1.4.0", nil, PinStore{}))
	if !strings.Contains(string(empty), `"generations":[]`) || !strings.Contains(string(empty), `"pin_store":null`) {
		t.Errorf("empty: %s", empty)
	}
}

// One session of `gatewayctl sessions --json`.
func TestPinJSON(t *testing.T) {
	k, _ := ParseSessionKey("0123456789abcdef0123456789abcdef")
	b, _ := json.Marshal(Pin{Key: k, Generation: 4, Instance: 2, LastSeen: time.Now().Add(-192*time.Second - 300*time.Millisecond)})
	if want := `{"hash":"0123456789abcdef0123456789abcdef","generation":4,"instance":2,"idle_seconds":192}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
