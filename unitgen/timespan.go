package unitgen

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// margin is added to the timeouts of the config for what they do not
// cover: connecting to the bus, starting processes, the gateway's own
// start and exit.
const margin = 30 * time.Second

// timespan returns the sum of ds as a systemd time span (systemd.time(7)):
// whole seconds, rounded up, written as "1h 2min 3s"; "infinity" if the
// sum does not fit a time.Duration.
func timespan(ds ...time.Duration) string {
	var sum time.Duration
	for _, d := range ds {
		if d > math.MaxInt64-sum {
			return "infinity"
		}
		sum += d
	}
	secs := int64(sum / time.Second)
	if sum%time.Second > 0 {
		secs++
	}
	var parts []string
	for _, u := range []struct {
		name string
		secs int64
	}{{"h", 3600}, {"min", 60}, {"s", 1}} {
		if n := secs / u.secs; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			secs %= u.secs
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, " ")
}
