package config

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"
)

// The file is first parsed into a generic map, then decoded here by
// walking Config's fields by their toml tags, so that every unknown key and
// every value of the wrong type is reported, not only the first.

// decoder collects the problems found while decoding.
type decoder struct {
	errs Errors
}

func (d *decoder) add(key toml.Key, format string, args ...any) {
	d.addf(key.String(), format, args...)
}

// addf is add for a key already written out, such as "app.command[1]".
func (d *decoder) addf(key string, format string, args ...any) {
	d.errs = append(d.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeFor[Duration]()

// table decodes the TOML table m at path into the struct rv.
func (d *decoder) table(path toml.Key, m map[string]any, rv reflect.Value) {
	fields := fieldIndex(rv.Type())
	for _, k := range sortedKeys(m) {
		key := join(path, toml.Key{k})
		i, ok := fields[k]
		if !ok {
			d.unknown(key, m[k])
			continue
		}
		d.value(key, m[k], rv.Field(i))
	}
}

// value decodes the TOML value v of key into rv.
func (d *decoder) value(key toml.Key, v any, rv reflect.Value) {
	want := wantOf(key, rv.Type())
	var ok bool
	switch {
	case rv.Type() == durationType:
		ok = d.duration(key, v, rv)
	case rv.Kind() == reflect.String:
		var s string
		if s, ok = v.(string); ok {
			rv.SetString(s)
		}
	case rv.Kind() == reflect.Int:
		ok = d.integer(key, v, rv)
	case rv.Kind() == reflect.Bool:
		var b bool
		if b, ok = v.(bool); ok {
			rv.SetBool(b)
		}
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Struct:
		ok = d.tables(key, v, rv)
	case rv.Kind() == reflect.Slice:
		ok = d.strings(key, v, rv)
	case rv.Kind() == reflect.Map && rv.Type().Elem().Kind() == reflect.Struct:
		ok = d.namedTables(key, v, rv)
	case rv.Kind() == reflect.Map:
		ok = d.stringMap(key, v, rv)
	case rv.Kind() == reflect.Struct:
		var m map[string]any
		if m, ok = v.(map[string]any); ok {
			d.table(key, m, rv)
		}
	default:
		panic("config: no decoder for " + rv.Type().String())
	}
	if !ok {
		d.add(key, "got %s, want %s", typeName(v), want)
	}
}

// duration decodes a Duration; it reports a bad duration string itself.
func (d *decoder) duration(key toml.Key, v any, rv reflect.Value) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	var dur Duration
	if err := dur.UnmarshalText([]byte(s)); err != nil {
		d.add(key, "%v", err)
		return true
	}
	rv.Set(reflect.ValueOf(dur))
	return true
}

func (d *decoder) integer(key toml.Key, v any, rv reflect.Value) bool {
	n, ok := v.(int64)
	if !ok {
		return false
	}
	if n < math.MinInt || n > math.MaxInt {
		d.add(key, "%d is out of range, want %s", n, wantOf(key, rv.Type()))
		return true
	}
	rv.SetInt(n)
	return true
}

// strings decodes an array of strings, reporting each element of the
// wrong type.
func (d *decoder) strings(key toml.Key, v any, rv reflect.Value) bool {
	a, ok := v.([]any)
	if !ok {
		return false
	}
	s := make([]string, len(a))
	for i, e := range a {
		var ok bool
		if s[i], ok = e.(string); !ok { // s[i] stays "", keeping indexes
			d.addf(indexKey(key.String(), i), "got %s, want a string", typeName(e))
		}
	}
	rv.Set(reflect.ValueOf(s))
	return true
}

// stringMap decodes a table of strings, reporting each value of the wrong
// type.
func (d *decoder) stringMap(key toml.Key, v any, rv reflect.Value) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		if s, ok := m[k].(string); ok {
			out[k] = s
		} else {
			d.add(join(key, toml.Key{k}), "got %s, want a string", typeName(m[k]))
		}
	}
	rv.Set(reflect.ValueOf(out))
	return true
}

// tables decodes an array of tables ([[key]], or inline ones) into a slice
// of structs, reporting each element that is not a table.
func (d *decoder) tables(key toml.Key, v any, rv reflect.Value) bool {
	var a []any
	switch v := v.(type) {
	case []map[string]any:
		for _, m := range v {
			a = append(a, m)
		}
	case []any:
		a = v
	default:
		return false
	}
	out := reflect.MakeSlice(rv.Type(), len(a), len(a))
	for i, e := range a {
		m, ok := e.(map[string]any)
		if !ok {
			d.addf(indexKey(key.String(), i), "got %s, want a table", typeName(e))
			continue
		}
		d.table(join(key, toml.Key{strconv.Itoa(i)}), m, out.Index(i))
	}
	rv.Set(out)
	return true
}

// namedTables decodes a table of tables ([key.NAME]) into a map of structs.
func (d *decoder) namedTables(key toml.Key, v any, rv reflect.Value) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	out := reflect.MakeMapWithSize(rv.Type(), len(m))
	for _, k := range sortedKeys(m) {
		sub, ok := m[k].(map[string]any)
		if !ok {
			d.add(join(key, toml.Key{k}), "got %s, want a table", typeName(m[k]))
			continue
		}
		e := reflect.New(rv.Type().Elem()).Elem()
		d.table(join(key, toml.Key{k}), sub, e)
		out.SetMapIndex(reflect.ValueOf(k), e)
	}
	rv.Set(out)
	return true
}

// unknown reports a key that is not in the schema.
func (d *decoder) unknown(key toml.Key, v any) {
	what := "key"
	if _, ok := v.(map[string]any); ok {
		what = "table"
	}
	msg := "unknown " + what
	if s := suggest(key); s != "" {
		msg += " (did you mean " + s + "?)"
	}
	d.add(key, "%s", msg)
}

// fieldIndex maps the toml names of t's fields to their indexes.
func fieldIndex(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("toml"); name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// indexKey names element i of the array key.
func indexKey(key string, i int) string {
	return key + "[" + strconv.Itoa(i) + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// wants describes the values some keys take, beyond their Go type.
var wants = map[string]string{
	"gateway.max_header_bytes": "an integer between 1024 and 16777216",
	"gateway.runner":           `"auto", "process" or "systemd"`,
	"app.instances":            "an integer between 1 and 64",
	"drain.max_generations":    "an integer between 2 and 100",
	"app.socket":               `"port" or "fd"`,
	"systemd.manager":          `"auto", "system" or "user"`,
	"systemd.memory_max":       `a size such as "512M" or "infinity"`,
	"systemd.cpu_quota":        `a percentage such as "150%"`,
	"systemd.tasks_max":        "an integer of zero or more (0 for no limit)",
	"canary.min_requests":      "an integer between 1 and 1000000000",
	"canary.error_margin":      `a percentage such as "1%"`,
	"canary.latency_margin":    `a percentage such as "50%"`,
}

// wantOf describes what a key of type t takes.
func wantOf(key toml.Key, t reflect.Type) string {
	if w, ok := wants[key.String()]; ok {
		return w
	}
	switch {
	case t == durationType:
		return `a duration such as "90s" or "5m"`
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "an array of tables"
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		return "a table of tables"
	case t.Kind() == reflect.Slice:
		return "an array of strings"
	case t.Kind() == reflect.Map:
		return "a table of strings"
	}
	return "a table"
}

// typeName names the type of a decoded TOML value.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}
