package config

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// The toml package does not expose where keys are, so keyLines finds them
// with a small scan of the document: just enough of TOML to tell keys from
// values, strings, comments and table headers.

// keyLines returns the 1-based line on which each key of a TOML document
// first appears, by its dotted name as toml.Key.String writes it. A table
// header [a.b] gives the line of a and a.b; a dotted key a.b = 1 gives the
// line of a and a.b; keys in inline tables get their own lines. Keys inside
// arrays are not recorded.
//
// data must be valid TOML (parse it first): where it is not, the scan stops
// and returns what it found so far.
func keyLines(data []byte) map[string]int {
	sc := &lineScanner{s: data, line: 1, lines: map[string]int{}}
	if strings.HasPrefix(string(data), "\ufeff") {
		sc.i = 3
	}
	sc.document()
	return sc.lines
}

type lineScanner struct {
	s     []byte
	i     int // offset of the next byte
	line  int // line of s[i]
	lines map[string]int
}

func (sc *lineScanner) document() {
	var table toml.Key
	for {
		sc.skipBlank()
		if sc.eof() {
			return
		}
		if sc.s[sc.i] != '[' {
			if !sc.keyValue(table, true) {
				return
			}
			continue
		}
		for sc.peek(0) == '[' {
			sc.i++
		}
		k, ok := sc.key()
		if !ok {
			return
		}
		table = k
		sc.record(k)
		sc.skipSpace()
		for sc.peek(0) == ']' {
			sc.i++
		}
	}
}

// keyValue scans "key = value" in table; rec says whether to record keys.
func (sc *lineScanner) keyValue(table toml.Key, rec bool) bool {
	k, ok := sc.key()
	if !ok {
		return false
	}
	full := join(table, k)
	if rec {
		sc.record(full)
	}
	sc.skipSpace()
	if sc.peek(0) != '=' {
		return false
	}
	sc.i++
	sc.skipSpace()
	return sc.value(full, rec)
}

// record sets the line of k and of each of its prefixes not yet seen.
func (sc *lineScanner) record(k toml.Key) {
	for n := 1; n <= len(k); n++ {
		name := k[:n].String()
		if _, ok := sc.lines[name]; !ok {
			sc.lines[name] = sc.line
		}
	}
}

// key scans a possibly dotted, possibly quoted key.
func (sc *lineScanner) key() (toml.Key, bool) {
	var k toml.Key
	for {
		sc.skipSpace()
		seg, ok := sc.keySegment()
		if !ok {
			return nil, false
		}
		k = append(k, seg)
		sc.skipSpace()
		if sc.peek(0) != '.' {
			return k, true
		}
		sc.i++
	}
}

func (sc *lineScanner) keySegment() (string, bool) {
	start := sc.i
	switch sc.peek(0) {
	case '"', '\'':
		if !sc.str() {
			return "", false
		}
		raw := string(sc.s[start+1 : sc.i-1])
		if sc.s[start] == '"' {
			raw = unescape(raw)
		}
		return raw, true
	}
	for !sc.eof() && isBareKeyByte(sc.s[sc.i]) {
		sc.i++
	}
	return string(sc.s[start:sc.i]), sc.i > start
}

func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-'
}

// value scans a value; key is its key, used for inline tables.
func (sc *lineScanner) value(key toml.Key, rec bool) bool {
	switch sc.peek(0) {
	case '"', '\'':
		return sc.str()
	case '[':
		return sc.array()
	case '{':
		return sc.inlineTable(key, rec)
	}
	return sc.bare()
}

// bare scans a number, boolean or date-time (which may hold a space).
func (sc *lineScanner) bare() bool {
	start := sc.i
	for !sc.eof() && !strings.ContainsRune(",]}#\r\n", rune(sc.s[sc.i])) {
		sc.i++
	}
	return sc.i > start
}

func (sc *lineScanner) array() bool {
	sc.i++ // [
	for {
		sc.skipBlank()
		switch {
		case sc.eof():
			return false
		case sc.s[sc.i] == ']':
			sc.i++
			return true
		case sc.s[sc.i] == ',':
			sc.i++
		case !sc.value(nil, false):
			return false
		}
	}
}

func (sc *lineScanner) inlineTable(key toml.Key, rec bool) bool {
	sc.i++ // {
	for {
		sc.skipBlank() // TOML 1.1 allows newlines and comments here
		switch {
		case sc.eof():
			return false
		case sc.s[sc.i] == '}':
			sc.i++
			return true
		case sc.s[sc.i] == ',':
			sc.i++
		case !sc.keyValue(key, rec):
			return false
		}
	}
}

// str scans a basic or literal string, single- or multi-line.
func (sc *lineScanner) str() bool {
	q := sc.s[sc.i]
	if sc.peek(1) == q && sc.peek(2) == q {
		return sc.multiLineStr(q)
	}
	sc.i++
	for !sc.eof() {
		switch c := sc.s[sc.i]; {
		case c == q:
			sc.i++
			return true
		case c == '\n':
			return false
		case c == '\\' && q == '"':
			sc.i++
		}
		sc.i++
	}
	return false
}

func (sc *lineScanner) multiLineStr(q byte) bool {
	sc.i += 3
	for !sc.eof() {
		if sc.s[sc.i] == q && sc.peek(1) == q && sc.peek(2) == q {
			sc.i += 3
			// Up to two more quotes belong to the string.
			for n := 0; n < 2 && sc.peek(0) == q; n++ {
				sc.i++
			}
			return true
		}
		if sc.s[sc.i] == '\\' && q == '"' {
			sc.advance()
		}
		sc.advance()
	}
	return false
}

// skipSpace skips spaces and tabs.
func (sc *lineScanner) skipSpace() {
	for sc.peek(0) == ' ' || sc.peek(0) == '\t' {
		sc.i++
	}
}

// skipBlank skips whitespace, newlines and comments.
func (sc *lineScanner) skipBlank() {
	for !sc.eof() {
		switch sc.s[sc.i] {
		case ' ', '\t', '\r', '\n':
			sc.advance()
		case '#':
			for !sc.eof() && sc.s[sc.i] != '\n' {
				sc.i++
			}
		default:
			return
		}
	}
}

// advance moves past one byte, counting lines.
func (sc *lineScanner) advance() {
	if sc.eof() {
		return
	}
	if sc.s[sc.i] == '\n' {
		sc.line++
	}
	sc.i++
}

func (sc *lineScanner) eof() bool { return sc.i >= len(sc.s) }

func (sc *lineScanner) peek(n int) byte {
	if sc.i+n < len(sc.s) {
		return sc.s[sc.i+n]
	}
	return 0
}

func join(a, b toml.Key) toml.Key {
	k := make(toml.Key, 0, len(a)+len(b))
	return append(append(k, a...), b...)
}

// unescape decodes the escapes of a TOML basic string (a quoted key).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == 'e' { // TOML 1.1's escape, unknown to Go
				b.WriteString(`\x1b`)
			} else {
				b.WriteString(s[i : i+2])
			}
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	if u, err := strconv.Unquote(`"` + b.String() + `"`); err == nil {
		return u
	}
	return s
}
