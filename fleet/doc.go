// Package fleet is the one shape of the gateway's generations and sessions
// that every layer shares: the supervisor reports them, the proxy routes by
// them, the D-Bus API carries them, gatewayctl and the console show them.
// It holds types, their JSON (the status document, an interface scripts
// parse: fields are only ever added) and their presentation, and imports
// nothing but the standard library.
package fleet
