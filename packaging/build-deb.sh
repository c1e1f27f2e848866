#!/usr/bin/env bash
# Builds the Debian package: target/debian/torsocks-rs_<version>_<arch>.deb
#
#   packaging/build-deb.sh
#
# Needs debhelper (apt-get install debhelper) and a Rust toolchain (cargo); the
# package's version is Cargo.toml's, which debian/changelog must name. Runs the
# binary targets of debian/rules directly (no source package is made), then lintian
# when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
changelog=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$changelog" ]; then
    echo "build-deb.sh: Cargo.toml says $version, debian/changelog $changelog: add a changelog entry" >&2
    exit 1
fi
command -v dh >/dev/null || { echo "build-deb.sh: needs debhelper (apt-get install debhelper)" >&2; exit 1; }
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
mkdir -p target/debian
debian/rules binary
rm -rf debian/torsocks-rs debian/.debhelper debian/debhelper-build-stamp \
    debian/files debian/*.substvars debian/*.debhelper.log
deb="target/debian/torsocks-rs_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "build-deb.sh: $deb was not built" >&2; exit 1; }
if command -v lintian >/dev/null; then
    # Errors fail the build; warnings are printed (see docs/architecture.md).
    lintian --fail-on error "$deb"
fi
echo "$deb"
