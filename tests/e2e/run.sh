#!/usr/bin/env bash
# Runs the Node.js end-to-end tests against the binaries of a build directory.
# usage: run.sh BIN_DIR ROME_DIR [TEST_FILE…]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PASSERELLE_BIN_DIR=$1 PASSERELLE_ROME_DIR=$2
shift 2
"$here/install.sh"
cd "$here"
if [ $# -eq 0 ]; then set -- *.test.mjs; fi
exec node --test --test-concurrency=1 "$@"
