package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/fleet"
)

// idleCore is a gateway with no generation yet.
type idleCore struct{}

func (idleCore) Upgrade(context.Context) (int, error)                     { return 0, nil }
func (idleCore) Detach(context.Context, int) (int, error)                 { return 0, nil }
func (idleCore) Rollback(context.Context, bool) (int, error)              { return 0, nil }
func (idleCore) UpgradeCanary(context.Context, float64) (int, error)      { return 0, nil }
func (idleCore) Promote(context.Context) (int, error)                     { return 0, nil }
func (idleCore) Abort(context.Context, bool) (int, error)                 { return 0, nil }
func (idleCore) Retire(context.Context, int, bool) error                  { return nil }
func (idleCore) Generations(context.Context) ([]fleet.Generation, error)  { return nil, nil }
func (idleCore) Sessions(context.Context) ([]fleet.Pin, error)            { return nil, nil }
func (idleCore) RecentSessions(context.Context, int) ([]fleet.Pin, error) { return nil, nil }
func (idleCore) EndSession(context.Context, fleet.SessionKey) error       { return nil }
func (idleCore) PinStore(context.Context) (fleet.PinStore, error)         { return fleet.PinStore{}, nil }
func (idleCore) Listeners(context.Context) ([]fleet.Listener, error)      { return nil, nil }

func TestLocalAddr(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want bool
	}{
		{&net.UnixAddr{Name: "/run/gateway/admin.sock", Net: "unix"}, true},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9090}, true},
		{&net.TCPAddr{IP: net.IPv4(127, 3, 2, 1), Port: 9090}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 9090}, true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 9090}, false},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 9090}, false},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 9090}, false},
	}
	for _, tt := range tests {
		if got := localAddr(tt.addr); got != tt.want {
			t.Errorf("localAddr(%v): got %t, want %t", tt.addr, got, tt.want)
		}
	}
}

// passed is a socket systemd passed, as far as its address goes.
type passed struct {
	net.Listener
	addr   net.Addr
	closed bool
}

func (p *passed) Addr() net.Addr { return p.addr }
func (p *passed) Close() error   { p.closed = true; return nil }

func testConfig(admin config.Admin) *config.Config {
	cfg := config.Default()
	cfg.App.Name = "notes"
	cfg.Admin = admin
	return cfg
}

// testAdmin is newAdmin with nothing behind it.
func testAdmin(admin config.Admin, l net.Listener, metrics http.Handler) (*adminServer, error) {
	return newAdmin(testConfig(admin), idleCore{}, metrics, l, "dev", slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// The configuration requires a password for a non-loopback admin.listen;
// a socket systemd passes is checked here, by its address.
func TestAdminRefusesPassedSocketReachableFromOutside(t *testing.T) {
	l := &passed{addr: &net.TCPAddr{IP: net.IPv4zero, Port: 9090}}
	_, err := testAdmin(config.Admin{User: "admin"}, l, nil)
	if err == nil || !strings.Contains(err.Error(), "socket systemd passed (0.0.0.0:9090)") || !strings.Contains(err.Error(), "admin.password_hash") {
		t.Errorf("got %v, want a refusal naming the socket and admin.password_hash", err)
	}
	if !l.closed {
		t.Error("the refused socket was not closed")
	}

	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	l = &passed{addr: &net.TCPAddr{IP: net.IPv4zero, Port: 9090}}
	if a, err := testAdmin(config.Admin{User: "admin", PasswordHash: string(hash)}, l, nil); err != nil || a == nil || !a.login {
		t.Errorf("with a password: got %v, %v; want a console asking for a login", a, err)
	}
}

func TestAdminOff(t *testing.T) {
	if a, err := testAdmin(config.Admin{User: "admin"}, nil, nil); a != nil || err != nil {
		t.Errorf("got %v, %v; want nil, nil (the console is off)", a, err)
	}
	var a *adminServer
	select {
	case <-a.start(context.Background()):
	default:
		t.Error("a console that is off is not stopped already")
	}
}

// On admin.listen (a unix socket here), the console and /metrics are
// served until the context is done, and the socket is gone after.
func TestAdminServes(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "gateway_up 1\n") })
	a, err := testAdmin(config.Admin{User: "admin", Listen: "unix:" + sock}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.where(); got != "unix:"+sock {
		t.Errorf("where: got %q, want %q", got, "unix:"+sock)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := a.start(ctx)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for path, want := range map[string]string{"/metrics": "gateway_up 1\n", "/static/favicon.svg": "<svg", "/api/status": "{"} {
		resp, err := client.Get("http://admin" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), want) {
			t.Errorf("GET %s: status %d, body %q; want 200 and %q", path, resp.StatusCode, body, want)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the console did not stop within 10s of its context")
	}
	if _, err := net.Dial("unix", sock); err == nil {
		t.Error("the console still answers after it stopped")
	}
}
