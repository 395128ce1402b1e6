package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// affinityKey reads the secret that keys session hashes and signs affinity
// cookies, creating it on first start. It must outlive gateway restarts:
// with a new key, every affinity cookie and persisted pin is worthless.
func affinityKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the affinity key: %w", err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("affinity key %s: %d bytes, want at least 16 (delete it to have a new one made)", path, len(key))
	}
	return key, nil
}

func createKey(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the affinity key's directory: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return affinityKey(path) // another gateway made it first
	}
	if err != nil {
		return nil, fmt.Errorf("creating the affinity key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing the affinity key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing the affinity key: %w", err)
	}
	return key, nil
}
