#!/usr/bin/env bash
# Fails when a C file's layout differs from .clang-format (clang-format 14, Debian 12's).
# Fix with: clang-format -i FILE…  (or this script with --fix)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(find src daemon tests bench -name '*.[ch]' | sort)
if [ "${1:-}" = --fix ]; then
    clang-format -i "${files[@]}"
    exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/check-format.$$; then
    grep -o '^[^:]*:[0-9]*' /tmp/check-format.$$ | sort -u | head -20 >&2
    echo "check-format: these files differ from .clang-format; run scripts/check-format.sh --fix" >&2
    rm -f /tmp/check-format.$$
    exit 1
fi
rm -f /tmp/check-format.$$
echo "check-format: ${#files[@]} files follow .clang-format"
