package systemd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// bus owns the connection to the systemd manager and dials it again when
// it was closed under us (a restarted dbus-daemon), as runc's
// retryOnDisconnect does.
type bus struct {
	user bool
	mu   sync.Mutex
	conn *sd.Conn
}

func (b *bus) dial(ctx context.Context) (*sd.Conn, error) {
	if b.user {
		return sd.NewUserConnectionContext(ctx)
	}
	return sd.NewSystemConnectionContext(ctx)
}

func (b *bus) get(ctx context.Context) (*sd.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil && b.conn.Connected() {
		return b.conn, nil
	}
	c, err := b.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the systemd %s manager: %w", b.kind(), err)
	}
	b.conn = c
	return c, nil
}

// call runs f on the connection, once more on a fresh one if the first was
// closed or broke (the bus closed it, or its socket failed under it).
func (b *bus) call(ctx context.Context, f func(*sd.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := b.get(ctx)
		if err != nil {
			return err
		}
		err = f(c)
		if attempt == 0 && broken(err) {
			c.Close()
			b.mu.Lock()
			b.conn = nil
			b.mu.Unlock()
			continue
		}
		return err
	}
}

func (b *bus) kind() string {
	if b.user {
		return "user"
	}
	return "system"
}

func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
}

// dbusErrorName returns the D-Bus error name of err ("" if it is not one),
// to tell e.g. org.freedesktop.systemd1.NoSuchUnit from a failure.
func dbusErrorName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *dbus.Error
	if errors.As(err, &dp) {
		return dp.Name
	}
	return ""
}

// broken reports an error of a connection that will not work again.
func broken(err error) bool {
	return errors.Is(err, dbus.ErrClosed) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
