package config

import (
	"sort"
	"strconv"
	"strings"
)

// An Error is one problem in a config: a syntax error, an unknown key, a
// value of the wrong type or a bad value. Its message reads
// "file:line: key: message", leaving out what is unknown.
type Error struct {
	File string // the config file; "" if none
	Line int    // 1-based; 0 if the key is not in the file
	Key  string // dotted key such as "sessions.idle_timeout"; "" for syntax errors
	Msg  string // what is wrong and what is expected

	related string // a key whose line to use if Key is not in the file
	err     error  // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, such as a toml.ParseError.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in a config, sorted by line (problems
// with no line, such as missing required keys, last). Its message has one
// line per problem.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// err returns es as an error: nil if there are no problems.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// sort orders es by line, problems with no line last; problems on the
// same line keep their order.
func (es Errors) sort() {
	rank := func(e *Error) int {
		if e.Line == 0 {
			return int(^uint(0) >> 1)
		}
		return e.Line
	}
	sort.SliceStable(es, func(i, j int) bool { return rank(es[i]) < rank(es[j]) })
}
