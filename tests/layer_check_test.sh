#!/usr/bin/env bash
# The layering is a build error, not a convention: cmake/layer_check.sh (the compiler launcher of
# the core, codec and edge-common targets) must refuse an I/O library header and a header from a
# higher layer in a core file, and accept libc. Usage: layer_check_test.sh SOURCE_DIR CC
set -u
src=$1 cc=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/core" "$work/src/edge/redis"
echo 'int store(void);' >"$work/src/edge/redis/store.h"
failures=0

compile() { # compile LAYER INCLUDE_LINE: runs the launcher on a one-line source in src/core
    printf '%s\nint f(void) { return 0; }\n' "$2" >"$work/src/core/x.c"
    sh "$src/cmake/layer_check.sh" "$1" "$work/src" "$cc" -I"$work/src/edge/redis" -MD -MT x.o \
        -MF "$work/x.o.d" -o "$work/x.o" -c "$work/src/core/x.c" 2>"$work/err"
}
expect_refused() { # expect_refused LAYER INCLUDE_LINE WORD
    if compile "$1" "$2"; then
        echo "FAIL: '$2' accepted in the $1 layer"
        failures=$((failures + 1))
    elif ! grep -q "$3" "$work/err"; then
        echo "FAIL: '$2' refused without naming $3:"
        cat "$work/err"
        failures=$((failures + 1))
    elif [ -e "$work/x.o" ]; then
        echo "FAIL: the refused object file was left behind (the next build would skip the check)"
        failures=$((failures + 1))
    else
        echo "ok: '$2' refused in the $1 layer"
    fi
}
expect_accepted() { # expect_accepted LAYER INCLUDE_LINE
    if compile "$1" "$2"; then
        echo "ok: '$2' accepted in the $1 layer"
    else
        echo "FAIL: '$2' refused in the $1 layer:"
        cat "$work/err"
        failures=$((failures + 1))
    fi
}

expect_refused core '#include <hiredis/hiredis.h>' hiredis/hiredis.h
expect_refused core '#include <librdkafka/rdkafka.h>' librdkafka/rdkafka.h
expect_refused core '#include <uv.h>' uv.h
expect_refused core '#include <msgpack.h>' msgpack.h
expect_refused core '#include "store.h"' edge/redis/store.h
expect_refused codec '#include <hiredis/hiredis.h>' hiredis/hiredis.h
expect_refused edge-common '#include <uv.h>' uv.h
expect_accepted core '#include <stdio.h>'
expect_accepted core '#include <xxhash.h>'
expect_accepted codec '#include <msgpack.h>'
[ "$failures" = 0 ]
