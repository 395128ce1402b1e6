package chaos

import (
	"errors"
	"testing"
	"time"
)

// A transport failure is put down to a gateway kill when the request's
// connection was dialed before a kill that came before the failure, and
// only then.
func TestGatewayKilledOn(t *testing.T) {
	t0 := time.Now()
	var k kills
	k.gateways = []time.Time{t0.Add(time.Second)}
	reset := errors.New("read: connection reset by peer")
	for _, c := range []struct {
		name   string
		dialed time.Time
		end    time.Time
		want   bool
	}{
		{"dialed before, failed after the kill", t0, t0.Add(3 * time.Second), true},
		{"dialed after the kill", t0.Add(2 * time.Second), t0.Add(3 * time.Second), false},
		{"failed before the kill", t0, t0.Add(500 * time.Millisecond), false},
		{"no connection", time.Time{}, t0.Add(3 * time.Second), false},
	} {
		if got := k.gatewayKilledOn(&connError{err: reset, dialed: c.dialed}, c.end); got != c.want {
			t.Errorf("%s: %t, want %t", c.name, got, c.want)
		}
	}
	if k.gatewayKilledOn(reset, t0.Add(3*time.Second)) {
		t.Error("an error without its connection's dial time was put down to the kill")
	}
}
