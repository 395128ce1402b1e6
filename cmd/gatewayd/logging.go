package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/lmittmann/tint"

	"github.com/gatewayd/gateway/internal/journald"
)

// newLogger chooses the handler once: journald's native protocol with
// structured fields when stderr is the journal (a systemd service), colour
// (tint) on a terminal, plain key=value text otherwise.
func newLogger(w *os.File, level slog.Level) *slog.Logger {
	if ok, _ := journal.StderrIsJournalStream(); ok && journal.Enabled() {
		return slog.New(journald.New(level))
	}
	if isTerminal(w) {
		return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
