// Package pinstore keeps the proxy's pins in a file across restarts of the
// gateway, at the cost of what changed: every interval, the pins that
// started, moved or ended are appended to a log of fixed-size records and
// synced; when the log has grown to twice the size of the live pins, it is
// rewritten from them (compacted) off to the side and renamed into place.
// docs/design.md "Pins across restarts" says why a log and not an embedded
// database, with the measurements.
package pinstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/gatewayd/gateway/proxy"
)

// Table is what the store needs of the proxy (a *proxy.Proxy).
type Table interface {
	TakePinChanges([]proxy.PinChange) []proxy.PinChange
	EachPin(func([]proxy.PinChange) error) error
	LoadPins([]proxy.PinChange)
	PinCount() int
	// PinsQueued signals pins that started or ended: written at once
	// rather than at the next tick.
	PinsQueued() <-chan struct{}
}

// Options configure a Store. Zero values are replaced as documented.
type Options struct {
	Path  string // the file; its directory must exist. Required.
	App   string // the app whose pins these are. Required.
	Table Table  // Required.
	// IdleTimeout is the proxy's: pins last seen longer ago than this are
	// not loaded. If zero, all are.
	IdleTimeout time.Duration
	// Interval is how often changes are written: at most this much of them
	// is lost in a crash (plus a compaction's duration, if one runs). If
	// zero, 250ms.
	Interval time.Duration
	// MaxBackoff caps the wait between retries of a failing write. If zero,
	// 30s.
	MaxBackoff time.Duration
	// OnError is called, from Run's goroutine, when writes start failing,
	// fail with another error, or work again: when Status().LastError
	// changes from or to "". If nil, nothing is called.
	OnError func()
	Logger  *slog.Logger // If nil, slog.Default().
}

// Store writes a Table's pin changes to a file. Create it with Open, which
// loads the pins the file holds; then Run writes.
type Store struct {
	o   Options
	log *slog.Logger

	// Owned by Run.
	f       *os.File // open for appending; nil until the first compaction if the file must be rewritten
	size    int64
	rewrite bool // the file must be rewritten before anything is appended
	pending []proxy.PinChange
	buf     []byte
	backoff time.Duration
	retryAt time.Time
	errText string    // the error last logged
	repeats int       // failures with errText since it was logged
	last    time.Time // when the last write was tried

	poke chan struct{}

	mu          sync.Mutex
	st          fleet.PinStore // what Status reports
	compactions int64
}

// Open reads the pins of o.Path into o.Table. A missing file is an empty
// store. A file of another app or version, or one that is not a pin store, is
// refused (the error wraps ErrRefused) and left untouched; any other error
// reading it is returned as is. A file cut short or damaged after its header
// loads up to the damage and is rewritten by Run's first write.
func Open(o Options) (*Store, error) {
	if o.Path == "" || o.App == "" || o.Table == nil {
		return nil, errors.New("pinstore: Options.Path, App and Table are required")
	}
	if len(o.App) > maxApp {
		return nil, fmt.Errorf("pinstore: app name longer than %d bytes", maxApp)
	}
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OnError == nil {
		o.OnError = func() {}
	}
	s := &Store{o: o, log: o.Logger, st: fleet.PinStore{Path: o.Path}, poke: make(chan struct{}, 1)}
	f, err := os.Open(o.Path)
	if errors.Is(err, fs.ErrNotExist) {
		s.rewrite = true
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := s.load(f); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Path, err)
	}
	if !s.rewrite {
		if s.f, err = os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
			return nil, err
		}
	}
	s.st.Bytes = s.size
	return s, nil
}

// load replays the file into the table, batch by batch.
func (s *Store) load(f *os.File) error {
	r := bufio.NewReaderSize(f, 1<<20)
	size, err := readHeader(r, s.o.App)
	if err != nil {
		return err
	}
	s.size = size
	cutoff := int64(0)
	if s.o.IdleTimeout > 0 {
		cutoff = time.Now().Add(-s.o.IdleTimeout).UnixNano()
	}
	batch := make([]proxy.PinChange, 0, 4096)
	rec := make([]byte, recordSize)
	records := 0
	for {
		n, err := io.ReadFull(r, rec)
		if errors.Is(err, io.EOF) {
			break
		}
		c, ok := getRecord(rec)
		if err != nil || !ok {
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return err
			}
			rest, _ := io.Copy(io.Discard, r)
			s.log.Warn("the pin store ends in a damaged or partial record (a crash while writing?); ignoring the rest of it",
				"path", s.o.Path, "offset", s.size, "bytes_ignored", int64(n)+rest, "records_read", records)
			s.rewrite = true
			break
		}
		if c.Generation != 0 && c.LastSeen < cutoff {
			c.Generation, c.Instance = 0, 0 // idle too long: read as ended
		}
		if batch = append(batch, c); len(batch) == cap(batch) {
			s.o.Table.LoadPins(batch)
			batch = batch[:0]
		}
		s.size += recordSize
		records++
	}
	s.o.Table.LoadPins(batch)
	return nil
}

// Status reports the store's state; safe from any goroutine.
func (s *Store) Status() fleet.PinStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Compactions counts the compactions since the store opened.
func (s *Store) Compactions() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.compactions
}
