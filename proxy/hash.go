package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"sync"
)

// SessionKey is the keyed hash of a session id: what the gateway keeps,
// persists and shows instead of the id itself.
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

// Hasher derives session keys and signs affinity cookies from one secret, so
// that a restarted gateway with the same key file finds its pins again.
type Hasher struct {
	sessions sync.Pool // of hash.Hash keyed for session ids
	cookies  sync.Pool // of hash.Hash keyed for affinity cookies
}

// NewHasher derives two independent keys from secret (at least 16 bytes).
func NewHasher(secret []byte) (*Hasher, error) {
	if len(secret) < 16 {
		return nil, errors.New("affinity key: want at least 16 bytes")
	}
	sessionKey := derive(secret, "gateway session hash v1")
	cookieKey := derive(secret, "gateway affinity cookie v1")
	h := &Hasher{}
	h.sessions.New = func() any { return hmac.New(sha256.New, sessionKey) }
	h.cookies.New = func() any { return hmac.New(sha256.New, cookieKey) }
	return h, nil
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Key hashes a session id. It is on the request path: pooled, no allocation.
func (h *Hasher) Key(sessionID string) SessionKey {
	m := h.sessions.Get().(hash.Hash)
	m.Reset()
	m.Write(stringBytes(sessionID))
	var sum [sha256.Size]byte
	var k SessionKey
	copy(k[:], m.Sum(sum[:0]))
	h.sessions.Put(m)
	return k
}

func (h *Hasher) mac(data []byte, out *[sha256.Size]byte) {
	m := h.cookies.Get().(hash.Hash)
	m.Reset()
	m.Write(data)
	m.Sum(out[:0])
	h.cookies.Put(m)
}
