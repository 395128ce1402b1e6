package config

import (
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// schemaKeys lists every key of the schema, tables and their keys, in
// field order: "gateway", "gateway.listen", ….
func schemaKeys() []toml.Key {
	var keys []toml.Key
	var walk func(path toml.Key, t reflect.Type)
	walk = func(path toml.Key, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("toml")
			if name == "" || name == "-" {
				continue
			}
			key := join(path, toml.Key{name})
			keys = append(keys, key)
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != durationType:
				walk(key, f.Type)
			case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
				walk(join(key, toml.Key{"NAME"}), f.Type.Elem()) // [key.NAME]: any name
			}
		}
	}
	walk(nil, reflect.TypeFor[Config]())
	return keys
}

// suggest returns what an unknown key may have meant: keys of the same
// table with a similar name or, failing that, keys of the same name in
// other tables; "" if none.
func suggest(key toml.Key) string {
	name, parent := key[len(key)-1], key[:len(key)-1].String()
	var near, elsewhere []string
	for _, k := range schemaKeys() {
		kname := k[len(k)-1]
		switch {
		case k[:len(k)-1].String() == parent && similar(name, kname):
			near = append(near, k.String())
		case kname == name:
			elsewhere = append(elsewhere, k.String())
		}
	}
	if len(near) == 0 {
		near = elsewhere
	}
	switch len(near) {
	case 0:
		return ""
	case 1:
		return near[0]
	}
	return strings.Join(near[:len(near)-1], ", ") + " or " + near[len(near)-1]
}

// similar reports whether a is a likely misspelling of b.
func similar(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	limit := min(3, max(1, len(b)/4))
	return distance(a, b) <= limit
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
