// Package config reads the configuration of one gateway app: a TOML file
// with the tables [gateway], [app], [readiness], [sessions], [drain] and
// [systemd].
// reference.toml, next to this file, documents every key with its default;
// the fields of [Config] document the same.
//
// Decoding is strict. Unknown keys (with a suggestion when a key looks
// misspelt), values of the wrong type and bad values are errors that name
// the file, the line and the dotted key, and say what is expected:
//
//	/etc/gateway/notes.toml:12: sessions.idle_timout: unknown key (did you mean sessions.idle_timeout?)
//	/etc/gateway/notes.toml:7: app.instances: got a string, want an integer between 1 and 64
//	/etc/gateway/notes.toml: app.command: required (the worker command, e.g. ["{dir}/app", "--port", "{port}"])
//
// All problems are reported together, as [Errors] sorted by line; a TOML
// syntax error stops decoding at once.
//
// Defaults are defined in one place (see [Default]); [Load] and [Parse]
// apply them, decode the file over them, and call [Config.Validate].
package config
