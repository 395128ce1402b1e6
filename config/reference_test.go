package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// commentedKey matches a commented-out key in reference.toml. Prose
// comments must not look like one.
// A commented-out table header ("# [listeners.public]") is one too.
var commentedKey = regexp.MustCompile(`(?m)^# ([A-Za-z_][A-Za-z0-9_]* = .*|\[[A-Za-z0-9_.]+\])$`)

func readReference(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("reference.toml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReferenceIsDefault checks that reference.toml, with app.directory
// and app.command uncommented, parses to Default() plus those two.
func TestReferenceIsDefault(t *testing.T) {
	t.Setenv("RUNTIME_DIRECTORY", "")
	t.Setenv("STATE_DIRECTORY", "")
	doc := readReference(t)
	for _, key := range []string{"directory", "command"} {
		if strings.Count(doc, "\n# "+key+" = ") != 1 {
			t.Fatalf("reference.toml: want one commented-out %s", key)
		}
		doc = strings.Replace(doc, "\n# "+key+" = ", "\n"+key+" = ", 1)
	}
	got, err := Parse([]byte(doc), "/etc/gateway/app.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.File = "/etc/gateway/app.toml"
	want.App.Directory = "/srv/notes/current"
	want.App.Command = []string{"{dir}/bin/notes", "--listen", "127.0.0.1:{port}"}
	// An empty table or array in the file is an empty map or slice.
	want.App.Environment = map[string]string{}
	want.Sessions.LogoutPaths = []string{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestReferenceIsComplete checks that reference.toml shows every key of
// the schema once, set or commented out, and that its examples are valid.
func TestReferenceIsComplete(t *testing.T) {
	doc := commentedKey.ReplaceAllString(readReference(t), "$1")
	if _, err := Parse([]byte(doc), "notes.toml"); err != nil {
		t.Fatalf("reference.toml with every key uncommented: %v", err)
	}
	lines := keyLines([]byte(doc))
	for k, n := range lines { // [listeners.public] stands for [listeners.NAME]
		if parts := strings.Split(k, "."); len(parts) > 2 {
			parts[1] = "NAME"
			lines[strings.Join(parts, ".")] = n
		}
	}
	for _, k := range schemaKeys() {
		if _, ok := lines[k.String()]; !ok {
			t.Errorf("reference.toml: got no %s, want every key", k)
		}
	}
}
