#!/usr/bin/env bash
# Checks the unit files under systemd/:
#   1. `systemd-analyze verify` accepts every unit with no warning at all (unknown keys, bad values,
#      missing executables). The units name /usr/bin/passerelled and /usr/bin/passerelle, which are
#      not installed here, so the check runs on temporary copies whose Exec lines point at the
#      build's binaries — or, for a binary not built yet, at a stand-in executable (said in the
#      output: the unit is then checked, the binary is not).
#   2. `systemd-analyze security --offline=true` rates every service at an exposure of 2.0 or less.
#   3. passerelled.service, passerelled@.service and passerelle-rome-publish.service carry the same
#      sandboxing lines (they are kept in step by hand; this catches a drift).
#   4. The sysusers.d and tmpfiles.d snippets apply cleanly to an empty root directory and give
#      /etc/passerelle the intended owner and mode.
#   5. Self-check: a copy of the unit with a misspelt key and one with weakened sandboxing must be
#      rejected, so that steps 1 and 2 are shown able to fail.
# Usage: systemd_units.sh SOURCE_DIR BUILD_DIR
set -euo pipefail

src=$(cd "${1:?source dir}" && pwd)
build=$(cd "${2:?build dir}" && pwd)
max_exposure=2.0
units=(passerelled.service passerelled@.service passerelle-rome-publish.service passerelle-rome-publish.timer)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Where each installed binary comes from in this check.
declare -A binary
for name in passerelled passerelle; do
  if [ -x "$build/$name" ]; then
    binary[$name]="$build/$name"
  else
    binary[$name]="$work/stand-in/$name"
    mkdir -p "$work/stand-in"
    printf '#!/bin/sh\nexit 0\n' >"${binary[$name]}"
    chmod +x "${binary[$name]}"
    echo "note: $name is not built yet; its Exec lines point at a stand-in executable"
  fi
done

# Copies a unit into $work/units with /usr/bin paths rewritten; a template gets an instance name.
stage() {
  local unit=$1 dest=${2:-}
  [ -n "$dest" ] || dest=${unit/@./@example.}
  mkdir -p "$work/units"
  sed -e "s|/usr/bin/passerelled|${binary[passerelled]}|g" \
      -e "s|/usr/bin/passerelle\\b|${binary[passerelle]}|g" "$src/systemd/$unit" >"$work/units/$dest"
  echo "$work/units/$dest"
}

# verify prints nothing for a clean unit; any line (warning or error) is a failure.
verify_unit() {
  local path=$1 out rc=0
  out=$(cd "$work/units" && systemd-analyze verify --man=no "$path" 2>&1) || rc=$?
  if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "$out"
    return 1
  fi
}

exposure_of() {
  systemd-analyze security --offline=true "$1" 2>&1 |
    sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

over_limit() { awk -v e="$1" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; }

for unit in "${units[@]}"; do
  [ -f "$src/systemd/$unit" ] || { fail "systemd/$unit is missing"; continue; }
  path=$(stage "$unit")
  # The timer needs its service next to it.
  [ "$unit" = passerelle-rome-publish.timer ] && stage passerelle-rome-publish.service >/dev/null
  if verify_unit "$path"; then echo "ok: systemd-analyze verify $unit"; else fail "systemd-analyze verify $unit"; fi
  case "$unit" in
    *.service)
      e=$(exposure_of "$path")
      if [ -z "$e" ]; then fail "no 'Overall exposure level' line for $unit"
      elif over_limit "$e"; then fail "$unit exposure $e > $max_exposure"
      else echo "ok: $unit exposure $e <= $max_exposure"; fi ;;
  esac
done

# 3. Sandboxing in step across the three services.
sandbox_lines() {
  grep -E '^(User|Group|DynamicUser|UMask|Protect[A-Za-z]*|Private[A-Za-z]*|NoNewPrivileges|CapabilityBoundingSet|AmbientCapabilities|Restrict[A-Za-z]*|LockPersonality|MemoryDenyWriteExecute|RemoveIPC|KeyringMode|SystemCall[A-Za-z]*|DevicePolicy|ProcSubset)=' "$1" | sort
}
reference=$(sandbox_lines "$src/systemd/passerelled.service")
[ "$(echo "$reference" | wc -l)" -ge 25 ] || fail "passerelled.service has fewer sandboxing lines than expected"
for other in passerelled@.service passerelle-rome-publish.service; do
  if diff <(echo "$reference") <(sandbox_lines "$src/systemd/$other") >"$work/diff"; then
    echo "ok: $other has the same sandboxing as passerelled.service"
  else
    cat "$work/diff"
    fail "$other sandboxing differs from passerelled.service"
  fi
done

# 4. sysusers + tmpfiles into an empty root.
root="$work/root"
mkdir -p "$root/etc"
if systemd-sysusers --root="$root" "$src/systemd/passerelle.sysusers" >/dev/null 2>&1 &&
   grep -q '^passerelle:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$root/etc/passwd"; then
  echo "ok: sysusers.d creates the passerelle system user"
else
  fail "sysusers.d snippet does not create the passerelle user"
fi
if out=$(systemd-tmpfiles --root="$root" --create "$src/systemd/passerelle.tmpfiles" 2>&1) && [ -z "$out" ]; then
  gid=$(awk -F: '$1 == "passerelle" { print $3 }' "$root/etc/group")
  got=$(stat -c '%a %u %g' "$root/etc/passerelle")
  if [ "$got" = "750 0 $gid" ]; then echo "ok: tmpfiles.d makes /etc/passerelle 0750 root:passerelle"
  else fail "/etc/passerelle is '$got', expected '750 0 $gid'"; fi
else
  echo "$out"
  fail "tmpfiles.d snippet does not apply cleanly"
fi

# 5. Self-check: the checks above reject a broken unit.
broken=$(stage passerelled.service passerelled-broken.service)
sed -i 's/^Restart=on-failure/Restart=on-failure\nRestartt=always/' "$broken"
if verify_unit "$broken" >/dev/null; then fail "self-check: verify accepted a unit with a misspelt key"
else echo "ok: self-check: verify rejects a misspelt key"; fi
weak=$(stage passerelled.service passerelled-weak.service)
sed -i -E '/^(Protect|Private|Restrict|SystemCall|CapabilityBoundingSet|NoNewPrivileges|MemoryDenyWriteExecute|DynamicUser|User=|Group=)/d' "$weak"
e=$(exposure_of "$weak")
if [ -n "$e" ] && over_limit "$e"; then echo "ok: self-check: an unhardened copy rates $e > $max_exposure"
else fail "self-check: an unhardened copy rates '$e', expected > $max_exposure"; fi

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all systemd unit checks passed"
