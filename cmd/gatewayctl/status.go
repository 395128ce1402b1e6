package main

import (
	"encoding/json"
	"io"

	"github.com/gatewayd/gateway/dbusapi"
	"github.com/gatewayd/gateway/fleet"
)

// statusJSON is `gatewayctl status --json`, the status document
// (fleet.Status) the admin console serves at /api/status too: the
// gateway's identity from the properties, everything else from the one
// snapshot of ListGenerations.
func statusJSON(props dbusapi.Properties, gens []fleet.Generation) fleet.Status {
	st := fleet.NewStatus(props.App, props.Version, gens, props.PinStore)
	st.Listeners = props.Listeners
	return st
}

// writeJSON prints v indented, for people reading it as much as for jq.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
