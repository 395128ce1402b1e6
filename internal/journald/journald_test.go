package journald

import "testing"

func TestFieldNames(t *testing.T) {
	for in, want := range map[string]string{
		"generation": "GATEWAY_GENERATION", "event": "GATEWAY_EVENT",
		"sessions_lost": "GATEWAY_SESSIONS_LOST", "drain-deadline": "GATEWAY_DRAIN_DEADLINE", "é": "GATEWAY__",
	} {
		if got := fieldName(in); got != want {
			t.Errorf("fieldName(%q): got %q, want %q", in, got, want)
		}
	}
}
