package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// The affinity cookie carries, signed: a version byte, the generation, the
// instance, when it was issued, and the first bytes of the session key it
// belongs to. Binding the session means a cookie copied onto another session
// is ignored; the signature means a user cannot pick a generation; the issue
// time means a session idle for longer than the idle timeout cannot come
// back to its old generation (the proxy reissues the cookie while the session
// is in use).
const (
	affinityVersion = 2
	affinityBody    = 1 + 4 + 2 + 4 + 8
	affinityMAC     = 16
	affinityRaw     = affinityBody + affinityMAC
)

var affinityEncoding = base64.RawURLEncoding

// affinityLen is the length of an encoded cookie value; anything else is
// rejected before decoding.
var affinityLen = affinityEncoding.EncodedLen(affinityRaw)

// Affinity is what a valid affinity cookie says.
type Affinity struct {
	Generation int
	Instance   int
	Issued     time.Time
}

// SignAffinity returns the cookie value that routes session to a.
func (h *Hasher) SignAffinity(a Affinity, session fleet.SessionKey) string {
	var raw [affinityRaw]byte
	raw[0] = affinityVersion
	binary.BigEndian.PutUint32(raw[1:5], uint32(a.Generation))
	binary.BigEndian.PutUint16(raw[5:7], uint16(a.Instance))
	binary.BigEndian.PutUint32(raw[7:11], uint32(a.Issued.Unix()))
	copy(raw[11:affinityBody], session[:8])
	var sum [sha256.Size]byte
	h.mac(raw[:affinityBody], &sum)
	copy(raw[affinityBody:], sum[:affinityMAC])
	return affinityEncoding.EncodeToString(raw[:])
}

// VerifyAffinity returns what a cookie value says, if it is well formed,
// correctly signed and bound to session. Any failure is just "no": a bad
// cookie must route as if there were none. Freshness is the caller's check.
func (h *Hasher) VerifyAffinity(value []byte, session fleet.SessionKey) (Affinity, bool) {
	raw, ok := decodeAffinity(value)
	if !ok {
		return Affinity{}, false
	}
	var sum [sha256.Size]byte
	h.mac(raw[:affinityBody], &sum)
	if !hmac.Equal(sum[:affinityMAC], raw[affinityBody:]) || !hmac.Equal(raw[11:affinityBody], session[:8]) {
		return Affinity{}, false
	}
	a := affinityOf(raw)
	return a, a.Generation > 0
}

// affinityIssued reads the issue time of a cookie without checking it: it
// only decides whether to reissue, never where to route.
func affinityIssued(value []byte) (time.Time, bool) {
	raw, ok := decodeAffinity(value)
	if !ok {
		return time.Time{}, false
	}
	return affinityOf(raw).Issued, true
}

func decodeAffinity(value []byte) ([affinityRaw]byte, bool) {
	var raw [affinityRaw]byte
	if len(value) != affinityLen {
		return raw, false
	}
	n, err := affinityEncoding.Decode(raw[:], value)
	return raw, err == nil && n == affinityRaw && raw[0] == affinityVersion
}

func affinityOf(raw [affinityRaw]byte) Affinity {
	return Affinity{
		Generation: int(binary.BigEndian.Uint32(raw[1:5])),
		Instance:   int(binary.BigEndian.Uint16(raw[5:7])),
		Issued:     time.Unix(int64(binary.BigEndian.Uint32(raw[7:11])), 0),
	}
}
