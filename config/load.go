package config

import (
	"errors"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the config file at path, decodes it strictly, applies
// defaults, and validates the result. Problems with the file are returned
// as [Errors]; a file that cannot be read as the error of os.ReadFile.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse is Load for a file already read: name is its path, used in
// messages and for the default App.Name; it may be "".
//
// A TOML syntax error is returned at once, as Errors holding that one
// problem. Otherwise every unknown key, value of the wrong type and bad
// value is reported, as Errors sorted by line.
func Parse(data []byte, name string) (*Config, error) {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		return nil, syntaxError(name, err)
	}
	c := &Config{File: name}
	c.setDefaults()
	d := &decoder{}
	d.table(nil, m, reflect.ValueOf(c).Elem())
	errs := d.errs
	bad := make(map[string]bool, len(errs))
	for _, e := range errs {
		bad[e.Key] = true
	}
	for _, e := range c.validate() {
		// A value that could not be decoded was left at its default (or
		// "" in an array): what validate says about it would only confuse.
		if !bad[e.Key] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		locate(errs, name, keyLines(data))
		return nil, errs
	}
	return c, nil
}

// Validate reports every bad value in c, as Errors (without lines, as c
// need not come from a file).
func (c *Config) Validate() error {
	errs := c.validate()
	for _, e := range errs {
		e.File = c.File
	}
	return errs.err()
}

// locate sets the file and line of each problem, and sorts them.
func locate(errs Errors, file string, lines map[string]int) {
	for _, e := range errs {
		e.File = file
		e.Line = lines[lineKey(e.Key)]
		if e.Line == 0 && e.related != "" {
			e.Line = lines[e.related]
		}
	}
	errs.sort()
}

// lineKey is the key whose line a problem is on: "app.command" for
// "app.command[2]" and "listeners.x.certificates[0].key".
func lineKey(key string) string {
	if i := strings.IndexByte(key, '['); i > 0 && !strings.ContainsRune(key[:i], '"') {
		return key[:i]
	}
	return key
}

func syntaxError(file string, err error) error {
	e := &Error{File: file, Msg: err.Error(), err: err}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e.Line = pe.Position.Line
		e.Msg = "syntax error: " + pe.Message
	}
	return Errors{e}
}
