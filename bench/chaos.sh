#!/usr/bin/env bash
# Runs bench/chaos.mjs against the binaries of a build directory (see the head of chaos.mjs).
# usage: bench/chaos.sh BIN_DIR ROME_DIR [--events N] [--kills K] … [--check]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$1" && pwd) rome=$(cd "$2" && pwd)
shift 2
"$here/../tests/e2e/install.sh"
exec node --max-old-space-size=8192 "$here/chaos.mjs" --bin "$bin" --rome "$rome" "$@"
