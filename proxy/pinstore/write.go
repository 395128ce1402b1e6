package pinstore

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewayd/gateway/proxy"
)

// minCompact is the log size below which it is never compacted: rewriting
// a small file saves nothing worth a rename. (A variable for the crash
// test's child, which compacts often however slow the machine.)
var minCompact int64 = 1 << 20

// Poke says that pins changed, as Table.PinsQueued does: Run writes them at
// once if it has not written for an interval, else at its next tick. It
// never blocks.
func (s *Store) Poke() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Run writes the table's changes every interval (and at once when pins
// were queued or it was poked after a quiet interval) until ctx ends, then rewrites the file once from
// the live pins, so that a clean stop keeps every last-seen time exactly.
// It runs on its own goroutine; nothing on the request path or the
// supervisor's loop waits for it.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			s.pending = s.o.Table.TakePinChanges(s.pending[:0])
			s.done(s.compact())
			if s.f != nil {
				s.f.Close()
			}
			return
		case now = <-t.C:
		case <-s.o.Table.PinsQueued():
			if now = time.Now(); now.Sub(s.last) < s.o.Interval {
				continue // the next tick takes it
			}
		case <-s.poke:
			if now = time.Now(); now.Sub(s.last) < s.o.Interval {
				continue // the next tick takes it
			}
		}
		if now.Before(s.retryAt) {
			continue
		}
		s.last = now
		s.done(s.step())
	}
}

// step writes what changed since the last step: appended, or by rewriting
// the file when it must be rewritten or has grown to twice the live pins.
func (s *Store) step() error {
	s.pending = s.o.Table.TakePinChanges(s.pending)
	live := headerSize(s.o.App) + int64(s.o.Table.PinCount())*recordSize
	if s.rewrite || s.size > minCompact && s.size > 2*live {
		return s.compact()
	}
	if len(s.pending) == 0 {
		return nil
	}
	return s.append()
}

func (s *Store) append() error {
	s.buf = s.buf[:0]
	for _, c := range s.pending {
		s.buf = append(s.buf, make([]byte, recordSize)...)
		putRecord(s.buf[len(s.buf)-recordSize:], c)
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return s.broken(err)
	}
	if err := s.f.Sync(); err != nil {
		return s.broken(err)
	}
	s.size += int64(len(s.buf))
	s.pending = s.pending[:0]
	return nil
}

// broken gives up on appending to the current file after a failed write: it
// may end in part of a record, and a record after that would be lost on
// reading. The next write rewrites the file from the live pins, which hold
// every pending change, so those are dropped (memory stays bounded however
// long writes fail).
func (s *Store) broken(err error) error {
	s.f.Close()
	s.f, s.rewrite = nil, true
	s.pending = s.pending[:0]
	return err
}

// compact writes every live pin to a new file next to the old one, syncs it,
// and renames it into place; a crash at any point leaves the old file or the
// new one whole. Changes taken before it started are in the live pins;
// changes made while it copies are either in the copy or still marked, and
// their records, appended later, repeat what they say.
func (s *Store) compact() error {
	s.pending = s.pending[:0]
	tmp := s.o.Path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after the rename, a no-op
	size, err := s.writeAll(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.o.Path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(s.o.Path))
	}
	if err != nil {
		s.rewrite = true
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.size = size
	if s.f, err = os.OpenFile(s.o.Path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		s.f = nil
		return err // rewrite is still set
	}
	s.rewrite = false
	s.mu.Lock()
	s.compactions++
	s.mu.Unlock()
	return nil
}

func (s *Store) writeAll(f *os.File) (int64, error) {
	w := bufio.NewWriterSize(f, 1<<20)
	head := appendHeader(nil, s.o.App)
	w.Write(head)
	size := int64(len(head))
	rec := make([]byte, recordSize)
	err := s.o.Table.EachPin(func(cs []proxy.PinChange) error {
		for _, c := range cs {
			putRecord(rec, c)
			if _, err := w.Write(rec); err != nil {
				return err
			}
		}
		size += int64(len(cs)) * recordSize
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	return size, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// done records a write's outcome. A failure is logged when its error differs
// from the last one logged (with how often that one repeated) and retried
// after a back-off that doubles up to MaxBackoff; the first success after
// failures is logged too.
func (s *Store) done(err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if was := s.st.Error; err == nil && was != "" || err != nil && err.Error() != was {
		defer s.o.OnError() // after the unlock: it may read Status
	}
	if err == nil {
		if s.errText != "" {
			s.log.Info("writing the pins works again", "path", s.o.Path, "failures", s.repeats+1, "last_error", s.errText)
		}
		s.errText, s.repeats, s.backoff, s.retryAt = "", 0, 0, time.Time{}
		s.st.Bytes, s.st.LastWrite, s.st.Error = s.size, now, ""
		return
	}
	s.st.WriteFailures++
	s.st.Error = err.Error()
	s.backoff = min(max(2*s.backoff, s.o.Interval), s.o.MaxBackoff)
	s.retryAt = now.Add(s.backoff)
	if err.Error() == s.errText {
		s.repeats++
		return
	}
	if s.errText != "" {
		s.log.Warn("an earlier error writing the pins repeated", "path", s.o.Path, "error", s.errText, "count", s.repeats+1)
	}
	s.errText, s.repeats = err.Error(), 0
	s.log.Error("writing the pins failed; a restart now would lose the sessions changed since the last write",
		"path", s.o.Path, "error", err, "retry_in", s.backoff)
}
