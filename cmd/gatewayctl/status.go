package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/gatewayd/gateway/dbusapi"
)

// The JSON that --json prints is dbusapi's status document (dbusapi.Status
// and its parts), shared with the admin console's /api/status.

// statusJSON is `gatewayctl status --json`: the gateway's identity from
// the properties, everything else from the one snapshot of ListGenerations
// (see dbusapi.NewStatus).
func statusJSON(props dbusapi.Properties, gens []dbusapi.Generation) dbusapi.Status {
	st := dbusapi.NewStatus(dbusapi.Info{App: props.App, Version: props.Version}, gens)
	st.PinStore = dbusapi.NewPinStoreStatus(props.PinStore)
	return st
}

// usecTime reads the API's Unix microseconds; 0 means not set (nil).
func usecTime(usec uint64) *time.Time { return dbusapi.USecTime(usec) }

// writeJSON prints v indented, for people reading it as much as for jq.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
