#!/usr/bin/env bash
# Validates deploy/: YAML of compose.yaml and k8s/*.yaml parses and hangs together
# (tests/deploy/validate.mjs, with the `yaml` npm package installed from tests/deploy's lockfile
# into BUILD_DIR/deploy-check), then the passerelled.conf carried by the ConfigMap and by compose
# is loaded with the daemon's configuration parser (deploy_config_check) and, once passerelled is
# built, checked with `passerelled --check-config`.
# Usage: deploy_check.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "${1:?source dir}" && pwd)
build=$(cd "${2:?build dir}" && pwd)
work="$build/deploy-check"
mkdir -p "$work/out"
cp "$src/tests/deploy/package.json" "$src/tests/deploy/package-lock.json" "$src/tests/deploy/validate.mjs" "$work/"
# Install once per lockfile version (npm ci wipes and reinstalls node_modules).
if ! cmp -s "$work/package-lock.json" "$work/node_modules/.installed-from-lock" 2>/dev/null; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$work/package-lock.json" "$work/node_modules/.installed-from-lock"
fi
node "$work/validate.mjs" "$src" "$work/out"

status=0
for conf in "$work"/out/*.conf; do
  "$build/deploy_config_check" "$conf" 9464 || status=1
  if [ -x "$build/passerelled" ]; then
    if out=$("$build/passerelled" --check-config "$conf" 2>&1); then
      echo "ok: passerelled --check-config $(basename "$conf")"
    else
      echo "$out"
      echo "FAIL: passerelled --check-config $(basename "$conf")"
      status=1
    fi
  else
    echo "note: passerelled is not built yet: --check-config not run on $(basename "$conf")"
  fi
done
# A binary file given to --check-config is refused (exit 1) and what is printed is short,
# printable UTF-8: the file's bytes are quoted escaped, never echoed to the terminal.
if [ -x "$build/passerelled" ]; then
  { printf '[\033]0;\007\377]\n\001\233\302\233 = \033[2J\n'; head -c 4096 "$build/passerelled"; } \
    >"$work/binary.conf"
  for conf in "$work/binary.conf" "$build/passerelled"; do
    if "$build/passerelled" --check-config "$conf" >"$work/binary.out" 2>&1; then
      echo "FAIL: passerelled --check-config accepts binary $(basename "$conf")"
      status=1
    elif node -e "
        const b=require('fs').readFileSync(process.argv[1]);
        new TextDecoder('utf-8',{fatal:true}).decode(b);
        const bad=b.some((c,i)=>(c<0x20&&c!==10)||c===0x7f||(c===0xc2&&b[i+1]<0xa0));
        process.exit(bad||b.length>600?1:0)" "$work/binary.out"; then
      echo "ok: passerelled --check-config on binary $(basename "$conf") refused cleanly"
    else
      echo "FAIL: passerelled --check-config echoes binary $(basename "$conf"):"
      od -c "$work/binary.out" | head -5
      status=1
    fi
  done
fi
exit $status
