package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"sync"

	"github.com/gatewayd/gateway/fleet"
)

// Hasher derives session keys and signs affinity cookies from one secret, so
// that a restarted gateway with the same key file finds its pins again.
type Hasher struct {
	sessions sync.Pool // of *macState keyed for session ids
	cookies  sync.Pool // of *macState keyed for affinity cookies
}

// macState is a keyed hash with the buffers it reads from and sums into.
// They live in the pooled value because a slice handed to the hash.Hash
// interface escapes: a stack array would be moved to the heap on every call.
type macState struct {
	h   hash.Hash
	in  [affinityBody]byte
	sum [sha256.Size]byte
}

// NewHasher derives two independent keys from secret (at least 16 bytes).
func NewHasher(secret []byte) (*Hasher, error) {
	if len(secret) < 16 {
		return nil, errors.New("affinity key: want at least 16 bytes")
	}
	sessionKey := derive(secret, "gateway session hash v1")
	cookieKey := derive(secret, "gateway affinity cookie v1")
	h := &Hasher{}
	h.sessions.New = func() any { return &macState{h: hmac.New(sha256.New, sessionKey)} }
	h.cookies.New = func() any { return &macState{h: hmac.New(sha256.New, cookieKey)} }
	return h, nil
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Key hashes a session id. It is on the request path: pooled, no allocation.
func (h *Hasher) Key(sessionID string) fleet.SessionKey { return h.KeyBytes(stringBytes(sessionID)) }

// KeyBytes is Key for an id still in a read buffer.
func (h *Hasher) KeyBytes(sessionID []byte) fleet.SessionKey {
	m := h.sessions.Get().(*macState)
	m.h.Reset()
	m.h.Write(sessionID)
	var k fleet.SessionKey
	copy(k[:], m.h.Sum(m.sum[:0]))
	h.sessions.Put(m)
	return k
}

// mac signs an affinity cookie body (at most affinityBody bytes).
func (h *Hasher) mac(data []byte, out *[sha256.Size]byte) {
	m := h.cookies.Get().(*macState)
	m.h.Reset()
	m.h.Write(m.in[:copy(m.in[:], data)])
	*out = [sha256.Size]byte(m.h.Sum(m.sum[:0]))
	h.cookies.Put(m)
}
