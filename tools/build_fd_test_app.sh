#!/usr/bin/env bash
# Build freeDiameter's test_app extension (test_app.fdx), which Debian does not package,
# from Debian's freeDiameter source package, against the installed libfreediameter-dev.
#
# Usage: tools/build_fd_test_app.sh [--force]
# Prints the path of test_app.fdx on stdout (progress goes to stderr). Idempotent: an
# existing build is reused. The build directory is $DIAMETER_TEST_APP_DIR, else
# /var/cache/diameter-test-app when writable, else build/fd-test-app in the repository.
# As root it installs what is missing (libfreediameter-dev bison flex gcc dpkg-dev) and
# adds deb-src entries mirroring the machine's deb ones, so `apt-get source` works.
set -euo pipefail

force=0
[ "${1:-}" = "--force" ] && force=1
repo="$(cd "$(dirname "$0")/.." && pwd)"
log() { echo "build_fd_test_app: $*" >&2; }

dir="${DIAMETER_TEST_APP_DIR:-}"
if [ -z "$dir" ]; then
  if mkdir -p /var/cache/diameter-test-app 2>/dev/null && [ -w /var/cache/diameter-test-app ]; then
    dir=/var/cache/diameter-test-app
  else
    dir="$repo/build/fd-test-app"
  fi
fi
mkdir -p "$dir"
out="$dir/test_app.fdx"
if [ "$force" -eq 0 ] && [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

need=()
for pkg in libfreediameter-dev bison flex gcc dpkg-dev; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need+=("$pkg")
  fi
done

# deb-src entries: one per deb entry of the machine's own sources, if there are none yet.
have_src() {
  grep -qsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}
updated=0
if ! have_src; then
  log "adding deb-src entries"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # keep the stanzas of type deb, as deb-src (deb822: stanzas separated by blank lines)
    awk 'BEGIN{RS=""; ORS="\n\n"} /(^|\n)Types:[^\n]*deb([ \n]|$)/ {
           sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f"
  done | $SUDO tee /etc/apt/sources.list.d/diameter-deb-src.sources >/dev/null
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list \
      | $SUDO tee /etc/apt/sources.list.d/diameter-deb-src.list >/dev/null
  fi
  $SUDO apt-get -o Acquire::Retries=3 update -q >&2
  updated=1
fi
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  [ "$updated" -eq 1 ] || $SUDO apt-get -o Acquire::Retries=3 update -q >&2
  $SUDO apt-get -o Acquire::Retries=3 install -y -q --no-install-recommends "${need[@]}" >&2
fi

# The source of the installed library's version (1.2.1-8 for the binNMU 1.2.1-8+b1).
version="$(dpkg-query -W -f='${source:Version}' libfreediameter-dev)"
src="$dir/src"
ext="$(ls -d "$src"/freediameter-*/extensions/test_app 2>/dev/null | head -n1 || true)"
if [ -z "$ext" ]; then
  rm -rf "$src"
  mkdir -p "$src"
  log "fetching the freediameter $version source package"
  (cd "$src" && apt-get source -q "freediameter=$version" >&2 2>&1) \
    || (cd "$src" && apt-get source -q freediameter >&2 2>&1)
  ext="$(ls -d "$src"/freediameter-*/extensions/test_app | head -n1)"
fi

log "building $ext"
b="$dir/build"
rm -rf "$b"
mkdir -p "$b"
cp "$ext"/*.c "$ext"/*.h "$ext"/ta_conf.y "$ext"/ta_conf.l "$b"/
# as freeDiameter's CMake files do: prefixed parser and scanner, the parser's header
bison -Wno-deprecated -Wno-other --name-prefix=ta_conf --defines --output-file="$b/ta_conf.tab.c" "$b/ta_conf.y"
flex -Pta_conf -o"$b/lex.ta_conf.c" "$b/ta_conf.l"
gcc -shared -fPIC -O2 -w -I"$b" -o "$b/test_app.fdx" \
  "$b"/test_app.c "$b"/ta_dict.c "$b"/ta_cli.c "$b"/ta_bench.c "$b"/ta_serv.c \
  "$b"/ta_conf.tab.c "$b"/lex.ta_conf.c -lfdcore -lfdproto -lpthread
mv -f "$b/test_app.fdx" "$out"
log "built $out"
echo "$out"
