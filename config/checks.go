package config

import (
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// checkListen returns what is wrong with a listen address, or "".
func checkListen(a string) string {
	if p, ok := strings.CutPrefix(a, "unix:"); ok {
		if !isAbs(p) {
			return `"` + p + `" is not an absolute path (want "unix:/absolute/path")`
		}
		return ""
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return strconv.Quote(a) + ` is not "host:port" or "unix:/absolute/path"`
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return strconv.Quote(a) + ": the port is not a number between 1 and 65535"
	}
	return ""
}

func isAbs(p string) bool { return filepath.IsAbs(p) && !hasControl(p) }

var (
	nameRE    = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	accountRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$`)
)

func validName(s string) bool { return nameRE.MatchString(s) && s != "." && s != ".." }

func validAccount(s string) bool { return accountRE.MatchString(s) }

// reservedEnv are set by the gateway for each worker.
var reservedEnv = []string{"PORT", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}

// checkEnv returns what is wrong with an environment variable, or "".
func checkEnv(name, value string) string {
	switch {
	case !envNameRE.MatchString(name):
		return "not a valid environment variable name (letters, digits and \"_\", not starting with a digit)"
	case slices.Contains(reservedEnv, name):
		return "set by the gateway, it cannot be set here"
	case strings.IndexByte(value, 0) >= 0:
		return "the value holds a NUL byte"
	}
	return ""
}

// The placeholders of App.Command.
var (
	placeholderRE    = regexp.MustCompile(`\{[a-z_]+\}`)
	placeholderNames = []string{"{port}", "{dir}", "{generation}", "{instance}"}
	placeholderList  = strings.Join(placeholderNames, ", ")
)

// placeholders returns the placeholder-like words of s, such as "{port}".
func placeholders(s string) []string { return placeholderRE.FindAllString(s, -1) }

func knownPlaceholder(p string) bool { return slices.Contains(placeholderNames, p) }

// validPath reports whether p is a request path: starting with "/",
// without spaces or control characters.
func validPath(p string) bool {
	return strings.HasPrefix(p, "/") && !hasControl(p) && !strings.ContainsRune(p, ' ')
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

func containsAny(s, chars string) bool { return strings.ContainsAny(s, chars) }

// tokenPunct are the punctuation characters allowed in a token.
const tokenPunct = "!#$%&'*+-.^_`|~"

// isToken reports whether s is a token (RFC 7230 section 3.2.6), as header
// names and cookie names (RFC 6265) must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && strings.IndexByte(tokenPunct, c) < 0 {
			return false
		}
	}
	return true
}

// unitPrefixRE matches the name of a plain systemd unit without its type
// suffix: the characters systemd allows in unit names but "@".
var unitPrefixRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+$`)

// unitNameMax is the longest unit name systemd takes.
const unitNameMax = 255

// checkSlice returns what is wrong with a slice name, or "": it must be
// what systemd's slice_name_is_valid takes.
func checkSlice(s string) string {
	prefix, ok := strings.CutSuffix(s, ".slice")
	switch {
	case !ok:
		return strconv.Quote(s) + ` must end in ".slice"`
	case len(s) > unitNameMax:
		return strconv.Quote(s) + " is longer than " + strconv.Itoa(unitNameMax) + " characters"
	case !unitPrefixRE.MatchString(prefix):
		return strconv.Quote(s) + ` is not a valid slice name (letters, digits and any of :-_.\ before ".slice")`
	case prefix != "-" && (strings.HasPrefix(prefix, "-") || strings.HasSuffix(prefix, "-") ||
		strings.Contains(prefix, "--")):
		return strconv.Quote(s) + ` is not a valid slice name ("-" separates nested slices: it cannot come first, last or twice in a row)`
	}
	return ""
}
