package dbusapi

import (
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// Signatures of the structs, for the introspection data.
const (
	generationSig = "(usssauuuuttt)"
	sessionSig    = "(suuu)"
	summarySig    = "(ttt)"   // requests, errors, p99_usec
	judgeSig      = "(tddtt)" // min_requests, error_margin, latency_margin, latency_margin_min_usec, promote_after_usec
)

func arg(name, typ, dir string) introspect.Arg {
	return introspect.Arg{Name: name, Type: typ, Direction: dir}
}

// introspection describes the API with argument names, so that
// `busctl introspect` alone tells how to call it.
func introspection(props []introspect.Property) *introspect.Node {
	return &introspect.Node{
		Name: string(Path),
		Interfaces: []introspect.Interface{
			introspect.IntrospectData,
			prop.IntrospectData,
			{
				Name: Interface,
				Methods: []introspect.Method{
					{Name: "Upgrade", Args: []introspect.Arg{arg("generation", "u", "out")}},
					{Name: "Detach", Args: []introspect.Arg{arg("generation", "u", "in"), arg("replacement", "u", "out")}},
					{Name: "Rollback", Args: []introspect.Arg{arg("move_sessions", "b", "in"), arg("restored", "u", "out")}},
					{Name: "UpgradeCanary", Args: []introspect.Arg{arg("percent", "d", "in"), arg("canary", "u", "out")}},
					{Name: "Promote", Args: []introspect.Arg{arg("promoted", "u", "out")}},
					{Name: "Abort", Args: []introspect.Arg{arg("move_sessions", "b", "in"), arg("aborted", "u", "out")}},
					{Name: "Retire", Args: []introspect.Arg{arg("generation", "u", "in"), arg("force", "b", "in")}},
					{Name: "ListGenerations", Args: []introspect.Arg{arg("generations", "a"+generationSig, "out")}},
					{Name: "GetTrial", Args: []introspect.Arg{arg("running", "b", "out"), arg("generation", "u", "out"),
						arg("share", "d", "out"), arg("started_usec", "t", "out"), arg("canary", summarySig, "out"),
						arg("active", summarySig, "out"), arg("judged", "b", "out"), arg("judge", judgeSig, "out"),
						arg("verdict", "s", "out")}},
					{Name: "ListSessions", Args: []introspect.Arg{arg("sessions", "a"+sessionSig, "out")}},
					{Name: "EndSession", Args: []introspect.Arg{arg("hash", "s", "in")}},
				},
				Signals: []introspect.Signal{
					{Name: "GenerationChanged", Args: []introspect.Arg{arg("generation", "u", ""), arg("state", "s", ""), arg("revision", "s", "")}},
				},
				Properties: props,
			},
		},
	}
}
