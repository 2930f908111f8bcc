#!/usr/bin/env bash
# Builds the Debian package the way a release does — a separate plain build with the prefix /usr,
# then `cpack -G DEB` — and checks it:
#   - control fields (name, version, architecture) and Depends, whose names must be real Debian 12
#     packages and must cover every shared library the packaged binaries load (NEEDED entries
#     resolved to their owning package with dpkg -S);
#   - the file list (binaries, units, sysusers/tmpfiles snippets, configuration, man pages, docs),
#     conffiles and maintainer scripts;
#   - the packaged units run the packaged binary with the packaged configuration, and the packaged
#     CLI runs.
# passerelled and config/passerelled.conf are checked when their sources exist (they are written
# by other parts of the project); the output says when one is not there yet.
# Usage: packaging_deb.sh SOURCE_DIR BUILD_DIR   (the package build goes to BUILD_DIR/package-test)
set -euo pipefail

src=$(cd "${1:?source dir}" && pwd)
build=$(cd "${2:?build dir}" && pwd)
pkg_build="$build/package-test"
jobs=${JOBS:-2}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

has_daemon=0
[ -f "$src/daemon/passerelled.c" ] && has_daemon=1
has_config=0
[ -f "$src/config/passerelled.conf" ] && has_config=1
[ $has_daemon = 1 ] || echo "note: daemon/passerelled.c does not exist yet; passerelled is not expected in the package"
[ $has_config = 1 ] || echo "note: config/passerelled.conf does not exist yet; it is not expected in the package"

targets=(passerelle-cli)
[ $has_daemon = 1 ] && targets+=(passerelled)
cmake -S "$src" -B "$pkg_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
      -DPASSERELLE_SANITIZE=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$pkg_build.configure.log" 2>&1 ||
  { cat "$pkg_build.configure.log"; exit 1; }
cmake --build "$pkg_build" -j "$jobs" --target "${targets[@]}" >"$pkg_build.build.log" 2>&1 ||
  { tail -50 "$pkg_build.build.log"; exit 1; }
rm -f "$pkg_build"/passerelle_*.deb
(cd "$pkg_build" && cpack -G DEB >"$pkg_build.cpack.log" 2>&1) || { cat "$pkg_build.cpack.log"; exit 1; }
debs=("$pkg_build"/passerelle_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { echo "FAIL: expected one passerelle_*.deb, got: ${debs[*]}"; exit 1; }
deb=${debs[0]}
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# ---- control fields ----
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = passerelle ] && ok "Package: passerelle" || fail "Package is '$(field Package)'"
version=$(sed -n 's/^project(passerelle VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ "$(field Version)" = "$version" ] && ok "Version: $version" || fail "Version is '$(field Version)', expected '$version'"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] && ok "Architecture: $(field Architecture)" ||
  fail "Architecture is '$(field Architecture)'"
depends=$(field Depends)
dep_names=$(echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort -u)
for name in libc6 librdkafka1 libuv1 libmsgpackc2 libhiredis0.14 libcsv3 libinih1 libsystemd0 libcjson1 libxxhash0 libhttp-parser2.9; do
  echo "$dep_names" | grep -qx "$name" || fail "Depends lacks $name"
done
# Every name in Depends is a Debian package of this release (the dependencies are installed here).
for name in $dep_names; do
  dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" ||
    fail "Depends names '$name', which is not an installed Debian package here"
done

# ---- files ----
contents=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
expect_file() {
  echo "$contents" | grep -qx "\./$1" && ok "contains /$1" || fail "package lacks /$1"
}
expect_file usr/bin/passerelle
[ $has_daemon = 1 ] && expect_file usr/bin/passerelled
for unit in passerelled.service passerelled@.service passerelle-rome-publish.service passerelle-rome-publish.timer; do
  expect_file "usr/lib/systemd/system/$unit"
done
expect_file usr/lib/sysusers.d/passerelle.conf
expect_file usr/lib/tmpfiles.d/passerelle.conf
[ $has_config = 1 ] && expect_file etc/passerelle/passerelled.conf
expect_file usr/share/man/man8/passerelled.8
expect_file usr/share/man/man1/passerelle.1
expect_file usr/share/doc/passerelle/operations.md

if [ $has_config = 1 ]; then
  got_conffiles=$(dpkg-deb -I "$deb" conffiles | sed '/^$/d')
  [ "$got_conffiles" = /etc/passerelle/passerelled.conf ] && ok "conffiles: $got_conffiles" ||
    fail "conffiles are '$got_conffiles', expected /etc/passerelle/passerelled.conf"
fi
for script in postinst prerm postrm; do
  dpkg-deb -I "$deb" "$script" | grep -q '^#!/bin/sh' && ok "maintainer script $script" || fail "no $script"
done
dpkg-deb -I "$deb" postinst | grep -q 'systemd-sysusers passerelle.conf' || fail "postinst does not create the user"

# ---- unpacked: paths and libraries ----
root="$pkg_build/unpacked"
rm -rf "$root"
dpkg-deb -x "$deb" "$root"
unit="$root/usr/lib/systemd/system/passerelled.service"
grep -qx 'ExecStart=/usr/bin/passerelled --config /etc/passerelle/passerelled.conf' "$unit" &&
  ok "passerelled.service runs /usr/bin/passerelled with /etc/passerelle/passerelled.conf" ||
  fail "packaged passerelled.service does not run the packaged binary/config"
"$root/usr/bin/passerelle" --help >/dev/null && ok "packaged passerelle --help runs" || fail "packaged passerelle --help fails"

# Each NEEDED library of each packaged binary belongs to a package named in Depends: resolve it
# with the dynamic loader (ldd), then ask dpkg which package owns that file (merged /usr: try the
# path with and without the /usr prefix).
owner_of() {
  local path=$1 p
  for p in "$path" "${path#/usr}" "/usr$path"; do
    dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 1
}
for bin in "$root"/usr/bin/*; do
  needed=$(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }')
  [ -n "$needed" ] || fail "$(basename "$bin"): no NEEDED entries read"
  for soname in $needed; do
    path=$(ldd "$bin" | awk -v s="$soname" '$1 == s && $2 == "=>" { print $3 }')
    owner=""
    [ -n "$path" ] && owner=$(owner_of "$(readlink -f "$path")" || owner_of "$path" || true)
    if [ -z "$owner" ]; then fail "$(basename "$bin"): cannot find the package of $soname (${path:-not found})"
    elif echo "$dep_names" | grep -qx "$owner"; then ok "$(basename "$bin"): $soname from $owner (in Depends)"
    else fail "$(basename "$bin"): $soname comes from $owner, which Depends does not name"; fi
  done
done

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "Debian package checks passed"
