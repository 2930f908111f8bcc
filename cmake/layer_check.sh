#!/bin/sh
# layer_check.sh LAYER SRC_ROOT COMPILER ARGS...
#
# The compiler launcher of the checked library layers (passerelle_layer() in CMakeLists.txt). It
# runs the compile, then reads the dependency file the compile wrote (-MF) and fails the build
# when the source pulled in a header its layer may not use: an in-tree header outside the layer's
# folders under SRC_ROOT, or the header of a library the layer must not depend on. System headers
# live in /usr/include beside libc's, so not linking a library is not enough to keep its header
# out; this check is what makes the layering a build error.
layer=$1 root=$2
shift 2
network='/(uv[.]h|uv/|hiredis/|librdkafka/|systemd/|http_parser[.]h)'
case $layer in
core) allowed=core forbidden="$network|/(ini[.]h|msgpack[.]h|msgpack/|cjson/)" ;;
codec) allowed=core:codec forbidden="$network|/ini[.]h" ;;
edge-common) allowed=core:codec:edge/common forbidden=$network ;;
*)
    echo "layer_check: unknown layer '$layer'" >&2
    exit 2
    ;;
esac
"$@" || exit
depfile= object= prev=
for arg; do
    [ "$prev" = -MF ] && depfile=$arg
    [ "$prev" = -o ] && object=$arg
    prev=$arg
done
if [ -z "$depfile" ] || [ ! -f "$depfile" ]; then
    echo "layer_check ($layer): the compile wrote no dependency file (-MF); cannot check" >&2
    exit 1
fi
# One path per line; the first token is the object file followed by ':'.
bad=$(tr ' \\' '\n\n' <"$depfile" | grep -v -e ':$' -e '^$' | while read -r dep; do
    case $dep in
    "$root"/*)
        rel=${dep#"$root"/} ok=
        for dir in $(echo "$allowed" | tr ':' ' '); do
            case $rel in "$dir"/*) ok=1 ;; esac
        done
        [ -n "$ok" ] || echo "$dep"
        ;;
    *) echo "$dep" | grep -E -e "$forbidden" ;;
    esac
done)
if [ -n "$bad" ]; then
    src=$(for arg; do case $arg in *.c) echo "$arg" ;; esac; done | tail -n 1)
    echo "layer_check: $src is in the '$layer' layer, which may not include:" >&2
    echo "$bad" | sed 's/^/    /' >&2
    rm -f "$object" "$depfile" # so the next build checks it again
    exit 1
fi
