// Package packaging builds and checks the gateway's .deb and .rpm packages.
// It has no Go code of its own, only the files nfpm packs and the tests of
// the packages:
//
//	nfpm.yaml        the one description of both packages
//	build.sh         `make packages`: binaries, man pages, then nfpm, into dist/
//	scripts/*.sh     maintainer scripts, for dpkg's and rpm's arguments alike
//	gateway.toml     the default /etc/gateway/gateway.toml (a conffile)
//	man/             gatewayd(8), gatewayctl(1), gateway-generator(8)
//	copyright        /usr/share/doc/gateway/copyright (DEP-5)
//	changelog        the Debian changelog; build.sh adds snapshot entries
//	lintian-overrides  lintian's false positives, each explained
//	licenses/        the full Apache-2.0 text, for the .rpm (%license)
//
// The tests build both packages once and inspect them with dpkg-deb,
// lintian and rpm; they run the maintainer scripts in a private mount
// namespace with PATH shims for groupadd, useradd, getent and systemctl, so
// that this machine's users and units are never touched. docs/packaging.md
// is the guide.
//
// See deb-postinst(5), deb-prerm(5), deb-postrm(5), the Fedora packaging
// guidelines on scriptlets, systemd.generator(7) and https://nfpm.goreleaser.com.
package packaging
