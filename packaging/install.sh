#!/usr/bin/env bash
# Builds torsocks-rs and installs it under a prefix.
#
#   packaging/install.sh [--prefix P] [--libdir L] [--sysconfdir E] [--debug] [--no-build]
#
# Installs (under $DESTDIR, for distribution packaging; L defaults to P/lib, E to P/etc):
#   P/bin/torsocks-ns                  namespace mode
#   P/bin/torsocks                     the preload wrapper (sourceable POSIX sh)
#   L/torsocks/libtorsocks.so          preload mode
#   L/torsocks/torsocks-inspect        the wrapper's static-binary check
#   L/torsocks/torsocks-arti           the embedded Tor client, started by torsocks-ns
#   E/torsocks.conf                    default configuration (an existing one is kept)
#   P/share/man/...                    man pages
#   P/share/{bash-completion,zsh,fish}/...  shell completions
#
# The programs look for /etc/tor/torsocks.conf first, as the C torsocks does, then for
# P/etc/torsocks.conf next to their own installation.
set -euo pipefail

prefix=/usr/local
profile=release
build=1
libdir=
sysconfdir=
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
                  prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --libdir) [ $# -ge 2 ] || { echo "install.sh: --libdir needs a directory" >&2; exit 2; }
                  libdir=$2; shift 2 ;;
        --sysconfdir) [ $# -ge 2 ] || { echo "install.sh: --sysconfdir needs a directory" >&2; exit 2; }
                  sysconfdir=$2; shift 2 ;;
        --debug) profile=debug; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case "$prefix" in
    /*) ;;
    *) prefix="$(pwd)/$prefix" ;;
esac

libdir=${libdir:-$prefix/lib}
sysconfdir=${sysconfdir:-$prefix/etc}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
if [ "$build" = 1 ]; then
    if [ "$profile" = release ]; then
        cargo build --release -p torsocks-ns -p torsocks-preload
    else
        cargo build -p torsocks-ns -p torsocks-preload
    fi
fi
out="$target_dir/$profile"
for f in "$out/torsocks-ns" "$out/torsocks-inspect" "$out/libtorsocks.so"; do
    [ -f "$f" ] || { echo "install.sh: $f is missing; build first (drop --no-build)" >&2; exit 1; }
done

dest="${DESTDIR:-}$prefix"
lib="${DESTDIR:-}$libdir/torsocks"
etc="${DESTDIR:-}$sysconfdir"
install -d "$dest/bin" "$lib" "$etc"
install -m 0755 "$out/torsocks-ns" "$dest/bin/torsocks-ns"
install -m 0644 "$out/libtorsocks.so" "$lib/libtorsocks.so"
install -m 0755 "$out/torsocks-inspect" "$lib/torsocks-inspect"
# The embedded Tor client (feature embedded-tor, on by default): torsocks-ns finds it in
# this directory. A build without the feature has none, and drops an older copy.
if [ -f "$out/torsocks-arti" ]; then
    install -m 0755 "$out/torsocks-arti" "$lib/torsocks-arti"
else
    rm -f "$lib/torsocks-arti"
fi
# The wrapper names the installed paths (without DESTDIR): when sourced, a script
# cannot find its own location in every shell.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
sed -e "s|@LIBRARY@|$libdir/torsocks/libtorsocks.so|" \
    -e "s|@INSPECT@|$libdir/torsocks/torsocks-inspect|" \
    -e "s|@VERSION@|$version|" packaging/torsocks.in > "$dest/bin/torsocks.tmp"
chmod 0755 "$dest/bin/torsocks.tmp"
mv "$dest/bin/torsocks.tmp" "$dest/bin/torsocks"
if [ -e "$etc/torsocks.conf" ] && ! cmp -s torsocks.conf "$etc/torsocks.conf"; then
    echo "install.sh: keeping the existing $etc/torsocks.conf" >&2
else
    install -m 0644 torsocks.conf "$etc/torsocks.conf"
fi
# Shell completions: the wrapper's are written by hand; torsocks-ns generates its own.
install -d "$dest/share/bash-completion/completions" "$dest/share/zsh/site-functions" \
    "$dest/share/fish/vendor_completions.d"
install -m 0644 packaging/completions/torsocks.bash "$dest/share/bash-completion/completions/torsocks"
install -m 0644 packaging/completions/_torsocks "$dest/share/zsh/site-functions/_torsocks"
install -m 0644 packaging/completions/torsocks.fish "$dest/share/fish/vendor_completions.d/torsocks.fish"
"$out/torsocks-ns" --completions bash > "$dest/share/bash-completion/completions/torsocks-ns"
"$out/torsocks-ns" --completions zsh > "$dest/share/zsh/site-functions/_torsocks-ns"
"$out/torsocks-ns" --completions fish > "$dest/share/fish/vendor_completions.d/torsocks-ns.fish"
if [ -d packaging/man ]; then
    for page in packaging/man/*.[1-8]; do
        [ -e "$page" ] || continue
        section=${page##*.}
        install -d "$dest/share/man/man$section"
        install -m 0644 "$page" "$dest/share/man/man$section/"
    done
fi
echo "installed torsocks-rs in $dest"
