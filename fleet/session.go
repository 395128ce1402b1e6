package fleet

import (
	"encoding/hex"
	"errors"
	"time"
)

// SessionKey is the keyed hash of a session id (proxy/hash.go): what the
// gateway keeps, persists and shows instead of the id itself.
type SessionKey [16]byte

// String is the form shown in logs, state files and admin tools.
func (k SessionKey) String() string { return hex.EncodeToString(k[:]) }

// ParseSessionKey reads the form String writes.
func ParseSessionKey(s string) (SessionKey, error) {
	var k SessionKey
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, errors.New("session hash: want 32 hex digits")
	}
	copy(k[:], b)
	return k, nil
}

func (k SessionKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *SessionKey) UnmarshalText(b []byte) (err error) {
	*k, err = ParseSessionKey(string(b))
	return err
}

// Pin is a session pinned to a generation's instance.
type Pin struct {
	Key        SessionKey
	Generation int
	Instance   int
	LastSeen   time.Time
}

// Idle is how long the session has not been seen.
func (p Pin) Idle(now time.Time) time.Duration { return max(now.Sub(p.LastSeen), 0) }
