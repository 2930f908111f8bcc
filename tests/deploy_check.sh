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
exit $status
