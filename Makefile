# make packages: the .deb and .rpm in dist/ (docs/packaging.md).
.PHONY: packages
packages:
	sh packaging/build.sh
