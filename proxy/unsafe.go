package proxy

import "unsafe"

// stringBytes views s as bytes without copying, for hashing on the request
// path; the result must not be written to.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }
