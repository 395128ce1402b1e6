package gwtest

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// Buffer collects output (a child's stderr, a logger's lines) that a test
// reads while it is still being written.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logger is a logger for the code under test whose lines are shown when
// the test fails, and only then. Lines written after the test ended (a
// goroutine finishing late) are kept, never printed: testing forbids that.
func Logger(t testing.TB) *slog.Logger {
	b := &Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", b.String())
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
