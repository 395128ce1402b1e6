package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestKeyLines(t *testing.T) {
	const doc = "\ufeff# a comment with [brackets] and key = 1\n" + // 1
		"top = 1\n" + // 2
		"[a]\n" + // 3
		"x = \"[not.a.table]\" # c = 3\n" + // 4
		"arr = [\n" + // 5
		"  \"]\", # ]\n" + // 6
		"  'x = 1',\n" + // 7
		"  [1, 2], { q = 1 },\n" + // 8
		"]\n" + // 9
		"ml = \"\"\"\n" + // 10
		"[fake]\n" + // 11
		"fake = \\\"\"\" \n" + // 12
		"still = 1\"\"\"\"\n" + // 13
		"lit = '''\n" + // 14
		"[fake2] '' \n" + // 15
		"'''\n" + // 16
		"d.e.f = 2\n" + // 17
		"\"quoted.key\" = 3\n" + // 18
		"'lit key' . sub = 4\n" + // 19
		"inl = { p = 1, r.s = { t = 2 } }\n" + // 20
		"date = 1979-05-27 07:32:00Z\n" + // 21
		"[ b . \"c\" ]\n" + // 22
		"y = 5\r\n" + // 23
		"[[arr2]]\n" + // 24
		"z = 6\n" + // 25
		"multi = {\n" + // 26
		"  u = 1, # comment }\n" + // 27
		"  v = 2,\n" + // 28
		"}\n" + // 29
		"esc = \"a\\\\\"\n" + // 30
		"last = 7" // 31
	want := map[string]int{
		"top":             2,
		"a":               3,
		"a.x":             4,
		"a.arr":           5,
		"a.ml":            10,
		"a.lit":           14,
		"a.d":             17,
		"a.d.e":           17,
		"a.d.e.f":         17,
		`a."quoted.key"`:  18,
		`a."lit key"`:     19,
		`a."lit key".sub`: 19,
		"a.inl":           20,
		"a.inl.p":         20,
		"a.inl.r.s.t":     20,
		"a.date":          21,
		"b":               22,
		"b.c":             22,
		"b.c.y":           23,
		"arr2":            24,
		"arr2.z":          25,
		"arr2.multi":      26,
		"arr2.multi.u":    27,
		"arr2.multi.v":    28,
		"arr2.esc":        30,
		"arr2.last":       31,
	}
	var m map[string]any
	md, err := toml.Decode(doc, &m)
	if err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
	got := keyLines([]byte(doc))
	// Every key the toml package sees, except those in arrays, is found.
keys:
	for _, k := range md.Keys() {
		for n := 1; n < len(k); n++ {
			if md.Type(k[:n]...) == "Array" {
				continue keys
			}
		}
		if _, ok := got[k.String()]; !ok {
			t.Errorf("key %s: not found", k)
		}
	}
	for k, line := range want {
		if got[k] != line {
			t.Errorf("line of %s: got %d, want %d", k, got[k], line)
		}
	}
	for _, k := range []string{"fake", "a.fake", "still", "a.still", "fake2", "a.c", "c", "q", "a.arr.q", "key"} {
		if line, ok := got[k]; ok {
			t.Errorf("got key %q at line %d, want none", k, line)
		}
	}
}

func TestKeyLinesInvalidStops(t *testing.T) {
	for _, doc := range []string{"a = ", "a = \"open", "[a", "a = [1,", "a = {b = ", "= 1", "a = '''x"} {
		t.Run(doc, func(t *testing.T) {
			got := keyLines([]byte(doc)) // must not hang or panic
			if doc[0] == 'a' && got["a"] != 1 {
				t.Errorf("got %v, want a at line 1", got)
			}
		})
	}
}

// FuzzKeyLines checks that the scan never panics or hangs, whatever the
// input, and finds every key outside arrays of a document that parses.
func FuzzKeyLines(f *testing.F) {
	f.Add([]byte(app))
	f.Add([]byte("a.b = { c = [1, {d = 2}], 'e' = \"\"\"x\"\"\" }\n[[f]]\ng = 1979-05-27 07:32:00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := keyLines(data)
		var m map[string]any
		md, err := toml.Decode(string(data), &m)
		if err != nil {
			return
		}
	keys:
		for _, k := range md.Keys() {
			for n := 1; n < len(k); n++ {
				// The toml package gives some keys in arrays no type.
				if typ := md.Type(k[:n]...); typ == "Array" || typ == "" {
					continue keys
				}
			}
			if _, ok := got[k.String()]; !ok {
				t.Errorf("key %s: not found", k)
			}
		}
	})
}
