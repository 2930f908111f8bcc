#!/usr/bin/env bash
# Installs the Node.js clients the end-to-end tests and bench/chaos use (kafkajs, @msgpack/msgpack,
# pinned by the lockfile), once per checkout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/kafkajs" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
