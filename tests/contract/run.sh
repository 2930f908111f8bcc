#!/usr/bin/env bash
# The codec_contract test: dumps what the code says the contract is, then compares it with the
# AsyncAPI document. The `yaml` npm package (pinned in package-lock.json) is installed with
# `npm ci` into NODE_DIR (in the build tree), once per lockfile change.
# usage: run.sh CONTRACT_DUMP FIXTURE_DIR ASYNCAPI_YAML NODE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dump=$1 fixture=$2 doc=$3 node_dir=$4
mkdir -p "$node_dir"
if [ ! -d "$node_dir/node_modules/yaml" ] || [ "$here/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
    cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
    (cd "$node_dir" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$dump" "$fixture" >"$out"
exec node "$here/check_asyncapi.mjs" "$doc" "$out" "$node_dir"
