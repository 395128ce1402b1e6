package dbusapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/gatewayd/gateway/fleet"
	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// Options configure a Server.
type Options struct {
	// AdminGroup may call what changes the gateway or shows sessions, as
	// root and the gateway's own user may. If empty, "gateway-admin".
	AdminGroup string
	// CallTimeout bounds a call that does not start a generation. If zero,
	// 30 seconds.
	CallTimeout time.Duration
	// UpgradeTimeout bounds Upgrade and Detach, which answer once the new
	// generation is ready. If zero, 10 minutes.
	UpgradeTimeout time.Duration
	// Logger receives the API's logs. If nil, slog.Default().
	Logger *slog.Logger
}

// Server exports a fleet.Core on a bus connection.
type Server struct {
	conn  *dbus.Conn
	core  fleet.Core
	o     Options
	log   *slog.Logger
	props *prop.Properties
	// ctx ends with Close: calls still running return.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards states
	states map[uint32]genState
}

// genState is what Refresh remembers of a generation: enough to name it in
// GenerationChanged once it has disappeared.
type genState struct{ state, revision string }

// Export puts the API on conn at Path. The caller owns conn and its bus
// name; Export does not request one.
func Export(conn *dbus.Conn, core fleet.Core, info Info, o Options) (*Server, error) {
	if o.AdminGroup == "" {
		o.AdminGroup = "gateway-admin"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = 10 * time.Minute
	}
	s := &Server{conn: conn, core: core, o: o, log: o.Logger, states: map[uint32]genState{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ro := func(v any) *prop.Prop { return &prop.Prop{Value: v, Emit: prop.EmitTrue} }
	props, err := prop.Export(conn, Path, prop.Map{Interface: {
		"App":              {Value: info.App, Emit: prop.EmitConst},
		"Version":          {Value: info.Version, Emit: prop.EmitConst},
		"ActiveGeneration": ro(uint32(0)),
		"Revision":         ro(""),
		"Generations":      ro(uint32(0)),
		"Sessions":         ro(uint32(0)),
		// The pin store: changes of Error are announced; the others are
		// read when asked (they change with every write).
		"PinStorePath":          {Value: "", Emit: prop.EmitFalse},
		"PinStoreBytes":         {Value: uint64(0), Emit: prop.EmitFalse},
		"PinStoreLastWriteUSec": {Value: uint64(0), Emit: prop.EmitFalse},
		"PinStoreError":         ro(""),
		"PinStoreWriteFailures": {Value: uint64(0), Emit: prop.EmitFalse},
		// The listeners: their certificates change on reload.
		"Listeners": ro([]wireListener{}),
	}})
	if err != nil {
		return nil, fmt.Errorf("exporting the properties: %w", err)
	}
	s.props = props
	if err := conn.Export(methods{s}, Path, Interface); err != nil {
		return nil, fmt.Errorf("exporting %s: %w", Interface, err)
	}
	node := introspection(props.Introspection(Interface))
	if err := conn.Export(introspect.NewIntrospectable(node), Path, "org.freedesktop.DBus.Introspectable"); err != nil {
		return nil, fmt.Errorf("exporting the introspection data: %w", err)
	}
	return s, nil
}

// Close takes the API off the bus and ends the calls still running. The
// connection stays the caller's.
func (s *Server) Close() {
	s.conn.Export(nil, Path, Interface)
	s.cancel()
}

// Refresh reads the generations and publishes what changed: properties
// (PropertiesChanged) and a GenerationChanged signal per generation whose
// state changed (a generation that disappeared was retired or lost).
func (s *Server) Refresh(ctx context.Context) {
	gens, err := s.core.Generations(ctx)
	if err != nil {
		return
	}
	st := fleet.NewStatus("", "", gens, fleet.PinStore{})
	now := map[uint32]genState{}
	for _, g := range gens {
		now[uint32(g.ID)] = genState{string(g.State), g.Revision}
	}
	s.set("ActiveGeneration", uint32(st.ActiveGeneration))
	s.set("Revision", st.Revision)
	s.set("Generations", uint32(len(gens)))
	s.set("Sessions", uint32(st.Sessions))
	if ps, err := s.core.PinStore(ctx); err == nil {
		s.set("PinStorePath", ps.Path)
		s.set("PinStoreBytes", uint64(ps.Bytes))
		s.set("PinStoreLastWriteUSec", usec(ps.LastWrite))
		s.set("PinStoreError", ps.Error)
		s.set("PinStoreWriteFailures", uint64(ps.WriteFailures))
	}
	if ls, err := s.core.Listeners(ctx); err == nil {
		s.set("Listeners", listenersToWire(ls))
	}

	s.mu.Lock()
	before := s.states
	s.states = now
	s.mu.Unlock()
	for _, g := range gens {
		if before[uint32(g.ID)].state != string(g.State) {
			s.emit(uint32(g.ID), string(g.State), g.Revision)
		}
	}
	for id, was := range before {
		if _, ok := now[id]; !ok {
			s.emit(id, string(fleet.Retired), was.revision)
		}
	}
}

func (s *Server) set(name string, v any) {
	if cur, err := s.props.Get(Interface, name); err == nil && reflect.DeepEqual(cur.Value(), v) {
		return
	}
	s.props.SetMust(Interface, name, v)
}

func (s *Server) emit(id uint32, state, rev string) {
	if err := s.conn.Emit(Path, Interface+".GenerationChanged", id, state, rev); err != nil {
		s.log.Warn("emitting GenerationChanged", "error", err)
	}
}

// authorize lets root, the gateway's own user and the admin group through.
// The bus policy says the same; checking here too means a permissive bus
// configuration still does not let anyone upgrade or end sessions.
func (s *Server) authorize(sender dbus.Sender, what string) *dbus.Error {
	var uid uint32
	err := s.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, string(sender)).Store(&uid)
	if err != nil {
		return dbusError(Errorf(ErrNameAccessDenied, fmt.Errorf("cannot tell who is calling: %w", err)))
	}
	if uid == 0 || int(uid) == os.Getuid() || s.inAdminGroup(uid) {
		return nil
	}
	s.log.Warn("refused a caller", "uid", uid, "method", what)
	return dbusError(Errorf(ErrNameAccessDenied,
		fmt.Errorf("uid %d may not %s: only root and members of the %s group may", uid, what, s.o.AdminGroup)))
}

func (s *Server) inAdminGroup(uid uint32) bool {
	g, err := user.LookupGroup(s.o.AdminGroup)
	if err != nil {
		return false
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return false
	}
	ids, err := u.GroupIds()
	if err != nil {
		return false
	}
	for _, id := range ids {
		if id == g.Gid {
			return true
		}
	}
	return false
}

// dbusError turns an error into the reply: its D-Bus name if it has one,
// else the generic Failed.
func dbusError(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	name := errorName(err)
	if name == "" {
		name = ErrNameFailed
	}
	if errors.Is(err, context.Canceled) {
		name = ErrNameFailed
	}
	return dbus.NewError(name, []any{err.Error()})
}

// errorName is the D-Bus name of err: the one it was tagged with, else the
// one of the fleet error it wraps, else "".
func errorName(err error) string {
	switch {
	case NameOf(err) != "":
		return NameOf(err)
	case errors.Is(err, fleet.ErrNoSuchGeneration):
		return ErrNameNoSuchGeneration
	case errors.Is(err, fleet.ErrInvalidState):
		return ErrNameInvalidState
	case errors.Is(err, fleet.ErrNoSuchSession):
		return ErrNameNoSuchSession
	}
	return ""
}
