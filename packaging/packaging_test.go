package packaging

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// testVersion is the version TestMain builds: valid for dpkg and rpm, and
// lower than any real release.
const testVersion = "0.0.1~test"

// build is what TestMain built, once for every test.
var build struct {
	dist, deb, rpm string
	log            string
	err            error
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dist, err := os.MkdirTemp("", "gateway-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dist)
	build.dist = dist
	build.deb = filepath.Join(dist, "gateway_"+testVersion+"_amd64.deb")
	build.rpm = filepath.Join(dist, "gateway-"+testVersion+"-1.x86_64.rpm")
	cmd := exec.Command("sh", "build.sh")
	cmd.Env = append(os.Environ(), "VERSION="+testVersion, "DIST="+dist)
	out, err := cmd.CombinedOutput()
	build.log = string(out)
	if err != nil {
		build.err = fmt.Errorf("packaging/build.sh: %w", err)
	}
	return m.Run()
}

// built fails the test if build.sh did not build the packages.
func built(t *testing.T) {
	t.Helper()
	if build.err != nil {
		t.Fatalf("%v; its output:\n%s", build.err, build.log)
	}
}

// need returns the path of a command the test needs. When it is missing,
// the test is skipped, naming the Debian package to install, unless
// GATEWAY_REQUIRE_SYSTEMD=1 (as tests/run.sh and CI set): then it fails.
func need(t *testing.T, command, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(command)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: apt-get install %s", command, pkg)
	if os.Getenv("GATEWAY_REQUIRE_SYSTEMD") == "1" {
		t.Fatalf("%s (GATEWAY_REQUIRE_SYSTEMD=1: this test must run)", msg)
	}
	t.Skip(msg)
	return ""
}

// run runs a command and returns its standard output; it fails the test,
// with both outputs, if the command fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// A packaged file: its path and ls-style mode.
type file struct {
	path, mode string
}

// The files of both packages (directories are checked apart).
var commonFiles = []file{
	{"/usr/bin/gatewayd", "-rwxr-xr-x"},
	{"/usr/bin/gatewayctl", "-rwxr-xr-x"},
	{"/usr/lib/systemd/system-generators/gateway-generator", "-rwxr-xr-x"},
	{"/usr/lib/systemd/system/gateway.socket", "-rw-r--r--"},
	{"/usr/lib/systemd/system/gateway.service", "-rw-r--r--"},
	{"/usr/lib/systemd/system/gateway.slice", "-rw-r--r--"},
	{"/usr/lib/systemd/system/gateway@.socket", "-rw-r--r--"},
	{"/usr/lib/systemd/system/gateway@.service", "-rw-r--r--"},
	{"/usr/share/dbus-1/system.d/org.gatewayd.Gateway1.conf", "-rw-r--r--"},
	{"/etc/gateway/gateway.toml", "-rw-r--r--"},
	{"/usr/share/man/man8/gatewayd.8.gz", "-rw-r--r--"},
	{"/usr/share/man/man1/gatewayctl.1.gz", "-rw-r--r--"},
	{"/usr/share/man/man8/gateway-generator.8.gz", "-rw-r--r--"},
	{"/usr/share/doc/gateway/copyright", "-rw-r--r--"},
	{"/usr/share/doc/gateway/examples/reference.toml", "-rw-r--r--"},
}

var debOnlyFiles = []file{
	{"/usr/share/doc/gateway/changelog.gz", "-rw-r--r--"},
	{"/usr/share/lintian/overrides/gateway", "-rw-r--r--"},
}

var rpmOnlyFiles = []file{
	{"/usr/share/licenses/gateway/Apache-2.0", "-rw-r--r--"},
}

// Directories the rpm owns (dpkg owns every parent directory anyway).
var rpmDirs = []string{"/etc/gateway", "/usr/share/doc/gateway", "/usr/share/doc/gateway/examples", "/usr/share/licenses/gateway"}

// The source of each file that is packaged as it is in the tree.
var sources = map[string]string{
	"/usr/lib/systemd/system/gateway.socket":                "../units/gateway.socket",
	"/usr/lib/systemd/system/gateway.service":               "../units/gateway.service",
	"/usr/lib/systemd/system/gateway.slice":                 "../units/gateway.slice",
	"/usr/lib/systemd/system/gateway@.socket":               "../units/gateway@.socket",
	"/usr/lib/systemd/system/gateway@.service":              "../units/gateway@.service",
	"/usr/share/dbus-1/system.d/org.gatewayd.Gateway1.conf": "../units/org.gatewayd.Gateway1.conf",
	"/etc/gateway/gateway.toml":                             "gateway.toml",
	"/usr/share/doc/gateway/copyright":                      "copyright",
	"/usr/share/doc/gateway/examples/reference.toml":        "../config/reference.toml",
	"/usr/share/lintian/overrides/gateway":                  "lintian-overrides",
}

var scripts = []struct{ deb, rpm, src string }{
	{"postinst", "postinstall", "scripts/postinstall.sh"},
	{"prerm", "preuninstall", "scripts/preremove.sh"},
	{"postrm", "postuninstall", "scripts/postremove.sh"},
}

// debData reads the data archive of the .deb: path → content, and path →
// "mode owner/group" for every entry (directories end in "/").
func debData(t *testing.T) (map[string][]byte, map[string]string) {
	t.Helper()
	built(t)
	need(t, "dpkg-deb", "dpkg")
	out, err := exec.Command("dpkg-deb", "--fsys-tarfile", build.deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile: %v", err)
	}
	content := map[string][]byte{}
	meta := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the .deb's data: %v", err)
		}
		p := strings.TrimPrefix(h.Name, ".")
		meta[p] = fmt.Sprintf("%s %s/%s", h.FileInfo().Mode(), h.Uname, h.Gname)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			content[p] = b
		}
	}
	return content, meta
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dpkg-deb -c lists every file with its mode, owned by root; nothing else
// is in the package but directories.
func TestDebContents(t *testing.T) {
	built(t)
	need(t, "dpkg-deb", "dpkg")
	listing := run(t, "dpkg-deb", "-c", build.deb)
	got := map[string]string{} // path → "mode owner"
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("dpkg-deb -c: unexpected line %q", line)
		}
		got[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
	}
	want := append(slices.Clone(commonFiles), debOnlyFiles...)
	for _, f := range want {
		if g, ok := got[f.path]; !ok {
			t.Errorf("%s: not in the .deb", f.path)
		} else if w := f.mode + " root/root"; g != w {
			t.Errorf("%s: got %q, want %q", f.path, g, w)
		}
	}
	for p, g := range got {
		if strings.HasSuffix(p, "/") {
			if g != "drwxr-xr-x root/root" {
				t.Errorf("directory %s: got %q, want drwxr-xr-x root/root", p, g)
			}
			continue
		}
		if !slices.ContainsFunc(want, func(f file) bool { return f.path == p }) {
			t.Errorf("%s: in the .deb but not expected (%s)", p, g)
		}
	}
	t.Logf("dpkg-deb -c:\n%s", listing)
}

// The files packaged as they are in the tree are byte for byte the same.
func TestDebFilesMatchTheirSources(t *testing.T) {
	content, _ := debData(t)
	for dst, src := range sources {
		if !bytes.Equal(content[dst], readFile(t, src)) {
			t.Errorf("%s differs from packaging/%s", dst, src)
		}
	}
}

// dpkg-deb -I: the conffile, the control fields, and the maintainer
// scripts exactly as written.
func TestDebControl(t *testing.T) {
	built(t)
	need(t, "dpkg-deb", "dpkg")
	info := run(t, "dpkg-deb", "-I", build.deb)
	t.Logf("dpkg-deb -I:\n%s", info)
	for _, s := range []string{"conffiles", "postinst", "prerm", "postrm", "Package: gateway", "Version: " + testVersion, "Architecture: amd64", "Depends: systemd, dbus, passwd"} {
		if !strings.Contains(info, s) {
			t.Errorf("dpkg-deb -I does not show %q", s)
		}
	}
	if got := run(t, "dpkg-deb", "-I", build.deb, "conffiles"); strings.TrimSpace(got) != "/etc/gateway/gateway.toml" {
		t.Errorf("conffiles: got %q, want /etc/gateway/gateway.toml", got)
	}
	for _, s := range scripts {
		got := run(t, "dpkg-deb", "-I", build.deb, s.deb)
		if want := string(readFile(t, s.src)); got != want {
			t.Errorf("%s differs from packaging/%s:\n%s", s.deb, s.src, got)
		}
	}
	if got := run(t, "dpkg-deb", "-f", build.deb, "Recommends", "Suggests"); strings.TrimSpace(got) != "" {
		t.Errorf("got Recommends/Suggests %q, want none", got)
	}
}

// The warnings lintian may give, each explained in docs/packaging.md.
// Anything else (at warning level or above) fails the test, so that the
// doc stays true.
var keptLintianTags = map[string]bool{
	"maintainer-script-calls-systemctl": true,
}

// lintian --fail-on error passes; it gives no warning but the kept ones.
func TestLintian(t *testing.T) {
	built(t)
	need(t, "lintian", "lintian")
	cmd := exec.Command("lintian", "--fail-on", "error", build.deb)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("lintian --fail-on error:\n%s%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("lintian --fail-on error: %v", err)
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || (f[0] != "E:" && f[0] != "W:") {
			continue
		}
		if !keptLintianTags[f[2]] {
			t.Errorf("lintian: %s: not among the warnings docs/packaging.md explains; fix it, or explain it there and add it to keptLintianTags", line)
		}
	}
}

// rpm -qpl lists the same files as the .deb (but its own extras), with the
// same modes; rpm -qpc lists the config file; rpm -qp --scripts shows the
// scriptlets as written.
func TestRPM(t *testing.T) {
	built(t)
	need(t, "rpm", "rpm")

	var want []string
	for _, f := range append(slices.Clone(commonFiles), rpmOnlyFiles...) {
		want = append(want, f.path)
	}
	want = append(want, rpmDirs...)
	sort.Strings(want)
	got := strings.Fields(run(t, "rpm", "-qpl", build.rpm))
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("rpm -qpl:\n got %q\nwant %q", got, want)
	}

	if got := strings.TrimSpace(run(t, "rpm", "-qpc", build.rpm)); got != "/etc/gateway/gateway.toml" {
		t.Errorf("rpm -qpc: got %q, want /etc/gateway/gateway.toml", got)
	}

	// Modes, owners and flags (c: config, n: noreplace, l: licence).
	modes := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf",
		`[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]`, build.rpm)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 { // no flags
			f = []string{f[0], f[1], "", f[2]}
		}
		modes[f[3]] = strings.TrimSpace(f[0] + " " + f[1] + " " + f[2])
	}
	flags := map[string]string{
		"/etc/gateway/gateway.toml":              "cn",
		"/usr/share/doc/gateway/copyright":       "l",
		"/usr/share/licenses/gateway/Apache-2.0": "l",
	}
	for _, f := range append(slices.Clone(commonFiles), rpmOnlyFiles...) {
		if w := strings.TrimSpace(f.mode + " root/root " + flags[f.path]); modes[f.path] != w {
			t.Errorf("rpm: %s: got %q, want %q", f.path, modes[f.path], w)
		}
	}
	for _, d := range rpmDirs {
		if w := "drwxr-xr-x root/root"; modes[d] != w {
			t.Errorf("rpm: %s: got %q, want %q", d, modes[d], w)
		}
	}

	if got := run(t, "rpm", "-qp", "--qf", `%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}`, build.rpm); got != "gateway "+testVersion+" 1 x86_64 MIT" {
		t.Errorf("rpm name, version, release, arch, licence: got %q", got)
	}
	reqs := strings.Fields(run(t, "rpm", "-qp", "--requires", build.rpm))
	for _, r := range []string{"systemd", "dbus", "shadow-utils"} {
		if !slices.Contains(reqs, r) {
			t.Errorf("rpm --requires %q: no %s", reqs, r)
		}
	}

	out := run(t, "rpm", "-qp", "--scripts", build.rpm)
	for _, s := range scripts {
		head := s.rpm + " scriptlet (using /bin/sh):\n"
		i := strings.Index(out, head)
		if i < 0 {
			t.Errorf("rpm -qp --scripts: no %q:\n%s", head, out)
			continue
		}
		if body := strings.TrimSpace(string(readFile(t, s.src))); !strings.HasPrefix(out[i+len(head):], body) {
			t.Errorf("rpm -qp --scripts: the %s scriptlet is not packaging/%s", s.rpm, s.src)
		}
	}
}

// The packaged config passes the packaged gatewayd's --check-config.
func TestPackagedConfigIsValid(t *testing.T) {
	content, _ := debData(t)
	cfg := filepath.Join(t.TempDir(), "gateway.toml")
	if err := os.WriteFile(cfg, content["/etc/gateway/gateway.toml"], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(build.dist, "gatewayd"), "--check-config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("gatewayd --check-config: %v\n%s", err, out)
	}
	if want := cfg + ": ok\n"; string(out) != want {
		t.Errorf("gatewayd --check-config: got %q, want %q", out, want)
	}
}

// The binaries carry the package's version.
func TestBinariesCarryTheVersion(t *testing.T) {
	built(t)
	for _, name := range []string{"gatewayd", "gatewayctl"} {
		out, err := exec.Command(filepath.Join(build.dist, name), "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", name, err)
		}
		if want := name + " " + testVersion + "\n"; string(out) != want {
			t.Errorf("%s --version: got %q, want %q", name, out, want)
		}
	}
}

// The Debian changelog starts with an entry for the version built.
func TestDebChangelog(t *testing.T) {
	content, _ := debData(t)
	log := string(gunzip(t, content["/usr/share/doc/gateway/changelog.gz"]))
	if want := "gateway (" + testVersion + ") unstable; urgency=medium\n"; !strings.HasPrefix(log, want) {
		t.Errorf("changelog.gz starts with %q, want %q", strings.SplitN(log, "\n", 2)[0], want)
	}
}

// The copyright file names every module linked into the binaries.
func TestCopyrightNamesEveryModule(t *testing.T) {
	built(t)
	cp := string(readFile(t, "copyright"))
	for _, name := range []string{"gatewayd", "gatewayctl", "gateway-generator"} {
		out := run(t, "go", "version", "-m", filepath.Join(build.dist, name))
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "dep" {
				continue
			}
			if !regexp.MustCompile(`(?m)^Files:.* ` + regexp.QuoteMeta(f[1]) + `/\*`).MatchString(cp) {
				t.Errorf("%s links %s, which packaging/copyright does not name (a Files: %s/* paragraph with its licence)", name, f[1], f[1])
			}
		}
	}
}

var manPages = []string{
	"/usr/share/man/man8/gatewayd.8.gz",
	"/usr/share/man/man1/gatewayctl.1.gz",
	"/usr/share/man/man8/gateway-generator.8.gz",
}

// The packaged man pages render without a warning, with groff and with
// man as lintian runs it.
func TestManPagesRender(t *testing.T) {
	content, _ := debData(t)
	groff := need(t, "groff", "groff-base")
	man, _ := exec.LookPath("man")
	for _, p := range manPages {
		t.Run(filepath.Base(p), func(t *testing.T) {
			page := gunzip(t, content[p])
			if !bytes.Contains(page, []byte(`"gateway `+testVersion+`"`)) {
				t.Errorf("the .TH line does not name gateway %s", testVersion)
			}
			check := func(name string, args ...string) string {
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(name, args...)
				cmd.Stdin = bytes.NewReader(page)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8")
				if err := cmd.Run(); err != nil {
					t.Errorf("%s: %v\n%s", name, err, stderr.String())
				}
				if stderr.Len() > 0 {
					t.Errorf("%s %s warns:\n%s", name, strings.Join(args, " "), stderr.String())
				}
				return stdout.String()
			}
			out := check(groff, "-man", "-Tutf8", "-ww", "-P", "-cbou") // no overstriking
			if !strings.Contains(out, "NAME") || !strings.Contains(out, "SEE ALSO") {
				t.Errorf("groff output lacks NAME or SEE ALSO:\n%s", out)
			}
			if man != "" {
				// What lintian's manpage-has-errors-from-man runs.
				f := filepath.Join(t.TempDir(), filepath.Base(p))
				if err := os.WriteFile(f, content[p], 0o644); err != nil {
					t.Fatal(err)
				}
				check(man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", f)
			}
		})
	}
}

// escapeRoff writes a name as the man pages do: "-" as "\-".
func escapeRoff(s string) string { return strings.ReplaceAll(s, "-", `\-`) }

// optionsSection is the text of a man page's OPTIONS section.
func optionsSection(page string) string {
	_, rest, _ := strings.Cut(page, "\n.SH OPTIONS\n")
	sec, _, _ := strings.Cut(rest, "\n.SH ")
	return sec
}

var roffLongFlag = regexp.MustCompile(`\\-\\-([a-z][a-z\\-]*[a-z])`)

// checkFlags checks that every flag of the --help output is in the man
// page, and that the man page's OPTIONS are all in the --help output.
func checkFlags(t *testing.T, page string, helpFlags []string) {
	t.Helper()
	for _, f := range helpFlags {
		if !strings.Contains(page, `\-\-`+escapeRoff(f)) {
			t.Errorf("--%s is in --help but not in the man page", f)
		}
	}
	for _, m := range roffLongFlag.FindAllStringSubmatch(optionsSection(page), -1) {
		f := strings.ReplaceAll(m[1], `\-`, "-")
		if f != "help" && !slices.Contains(helpFlags, f) {
			t.Errorf("the man page's OPTIONS has --%s, which --help does not list", f)
		}
	}
}

// gatewayd(8) documents exactly the flags of `gatewayd --help`.
func TestGatewaydManPageMatchesHelp(t *testing.T) {
	built(t)
	// Go's flag package prints the usage on stderr and exits 2.
	out, _ := exec.Command(filepath.Join(build.dist, "gatewayd"), "--help").CombinedOutput()
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z][a-z-]*)`).FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) < 4 {
		t.Fatalf("gatewayd --help: found only flags %q in:\n%s", flags, out)
	}
	checkFlags(t, string(readFile(t, "man/gatewayd.8")), flags)
}

// gatewayctl(1) documents every command and flag of `gatewayctl --help`.
func TestGatewayctlManPageMatchesHelp(t *testing.T) {
	built(t)
	out, err := exec.Command(filepath.Join(build.dist, "gatewayctl"), "--help").Output()
	if err != nil {
		t.Fatalf("gatewayctl --help: %v", err)
	}
	help := string(out)
	page := string(readFile(t, "man/gatewayctl.1"))

	_, cmds, ok := strings.Cut(help, "\nCommands:\n")
	if !ok {
		t.Fatalf("gatewayctl --help has no Commands: section:\n%s", help)
	}
	cmds, _, _ = strings.Cut(cmds, "\n\n")
	for _, line := range strings.Split(cmds, "\n") {
		name := strings.Fields(line)[0]
		if !regexp.MustCompile(`(?m)^\.B[IR]? ` + regexp.QuoteMeta(escapeRoff(name)) + `( |$)`).MatchString(page) {
			t.Errorf("command %s is in gatewayctl --help but has no entry in gatewayctl(1)", name)
		}
	}

	var flags []string
	for _, m := range regexp.MustCompile(`--([a-z][a-z-]*[a-z])`).FindAllStringSubmatch(help, -1) {
		if !slices.Contains(flags, m[1]) {
			flags = append(flags, m[1])
		}
	}
	if len(flags) < 6 {
		t.Fatalf("gatewayctl --help: found only flags %q", flags)
	}
	checkFlags(t, page, flags)
}

// build.sh refuses a version dpkg or rpm would misread, before building
// anything, and derives a valid one from git by default.
func TestBuildVersion(t *testing.T) {
	for _, v := range []string{"1.0-1", "v1.0", "1.0:2", "1.0_2"} {
		cmd := exec.Command("sh", "build.sh")
		cmd.Env = append(os.Environ(), "VERSION="+v, "DIST="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "VERSION="+v+": want") {
			t.Errorf("VERSION=%s: got %v, %q; want a failure that explains", v, err, out)
		}
	}
	if _, err := exec.LookPath("git"); err != nil {
		return
	}
	if err := exec.Command("git", "rev-parse", "--git-dir").Run(); err != nil {
		return
	}
	cmd := exec.Command("sh", "build.sh", "--print-version")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "VERSION=") })
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build.sh --print-version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	if !regexp.MustCompile(`^[0-9][0-9.]*(~[A-Za-z0-9.]+)?(\+git[0-9]{14}\.[0-9a-f]{7,})?$|^0\.1\.0~git[0-9]{14}\.[0-9a-f]{7,}$`).MatchString(v) {
		t.Errorf("build.sh --print-version: got %q, want a release (1.2.0), a snapshot after one (1.2.0+git<date>.<sha>) or before the first (0.1.0~git<date>.<sha>)", v)
	}
}
