package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// h2specExceptions are the h2spec cases the gateway fails on purpose,
// each with why (docs/benchmarks.md "HTTP/2 conformance" lists them too).
var h2specExceptions = map[string]string{
	"http2 6.5.3/1": "net/http closes a connection whose SETTINGS frame repeats a setting, on purpose (a defence " +
		"against settings floods): RFC 9113 allows repeats, no client sends them",
	"http2 8.1.2.2/1": "net/http answers a request with a connection-specific field (Connection, Keep-Alive, " +
		"Proxy-Connection, Transfer-Encoding, Upgrade) 400 instead of resetting the stream: refused either way, never forwarded",
	"http2 8.1.2.2/2": "the same for TE other than \"trailers\": a 400, never forwarded",
}

// h2spec (github.com/summerwind/h2spec, installed by tests/run.sh) runs
// its generic and HTTP/2 suites against a TLS listener of gatewayd in
// front of the notes app: every case passes but the documented exceptions.
func TestH2Spec(t *testing.T) {
	bin := tool(t, "H2SPEC", "h2spec")
	_, port := startTLSGateway(t)
	out, _ := exec.Command(bin, "generic", "http2", "-h", "127.0.0.1", "-p", port, "-t", "-k", "-o", "5", "-j", t.TempDir()+"/report.xml").CombinedOutput()
	summary := regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`).FindStringSubmatch(string(out))
	if summary == nil {
		t.Fatalf("no summary in h2spec's output:\n%s", out)
	}
	t.Logf("h2spec: %s", summary[0])
	failed := failures(string(out))
	for _, f := range failed {
		if _, ok := h2specExceptions[f]; !ok {
			t.Errorf("h2spec failure not documented as an exception: %s", f)
		}
	}
	if t.Failed() {
		t.Logf("h2spec output:\n%s", out)
	}
}

// failures lists the cases h2spec's "Failures:" section names, as
// "http2 6.5.3/1": the suite, the section and the case's number.
func failures(out string) []string {
	_, rest, ok := strings.Cut(out, "Failures:")
	if !ok {
		return nil
	}
	heading := regexp.MustCompile(`^\s*(\d+(?:\.\d+)*)\.\s`)
	failed := regexp.MustCompile(`^\s*× (\d+):`)
	var ids []string
	suite, section := "", ""
	for _, line := range strings.Split(rest, "\n") {
		switch {
		case strings.HasPrefix(line, "Generic"):
			suite = "generic"
		case strings.HasPrefix(line, "Hypertext"):
			suite = "http2"
		case heading.MatchString(line):
			section = heading.FindStringSubmatch(line)[1]
		case failed.MatchString(line):
			ids = append(ids, suite+" "+section+"/"+failed.FindStringSubmatch(line)[1])
		}
	}
	return ids
}
