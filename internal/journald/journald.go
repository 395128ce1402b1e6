// Package journald is a log/slog handler that writes to the systemd
// journal with its native protocol (sd_journal_send(3)), each attribute a
// field of its own.
package journald

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode"

	"github.com/coreos/go-systemd/v22/journal"
)

// Handler sends records to journald with structured fields, so that
// `journalctl -u gateway GATEWAY_EVENT=retired` works: every attribute
// becomes a GATEWAY_<KEY> field (generation → GATEWAY_GENERATION, event →
// GATEWAY_EVENT) and the level becomes PRIORITY. MESSAGE carries the text
// and the attributes too, for a plain `journalctl` reading.
type Handler struct {
	level  slog.Leveler
	attrs  []slog.Attr
	groups string
}

// New is a Handler of the records at level or above.
func New(level slog.Leveler) *Handler { return &Handler{level: level} }

// Enabled reports whether records at l are sent.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{}
	var text strings.Builder
	text.WriteString(r.Message)
	add := func(a slog.Attr) {
		if a.Equal(slog.Attr{}) {
			return
		}
		v := a.Value.Resolve().String()
		vars[fieldName(h.groups+a.Key)] = v
		fmt.Fprintf(&text, " %s=%s", a.Key, quoteIfNeeded(v))
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	return journal.Send(text.String(), priority(r.Level), vars)
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *Handler) WithGroup(name string) slog.Handler {
	c := *h
	c.groups = h.groups + name + "_"
	return &c
}

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// fieldName makes a journal field name: GATEWAY_ and the key in upper
// case, anything but letters and digits as "_".
func fieldName(key string) string {
	var b strings.Builder
	b.WriteString("GATEWAY_")
	for _, r := range key {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
