#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The layer check: every object under BUILD_DIR uses only symbols defined in
# its own layer or in a layer its row of docs/DESIGN.md's table allows, and no
# source includes another layer's private header. A call that runs up a layer
# fails here, named with the object and the symbol.
#   scripts/layers.sh [BUILD_DIR]   (default build; without objects only the includes are checked)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# "| `base/` | — | ..." -> "base" and "base x509 ..." ("every layer": all).
sed -n 's/^| `\([a-z0-9]*\)\/` | \([^|]*\) |.*/\1 \2/p' docs/DESIGN.md |
    sed 's/—//; s/  *$//' >"$tmp/table"
if [ ! -s "$tmp/table" ]; then
    echo "layers: no layer table in docs/DESIGN.md"
    exit 1
fi
layers=$(cut -d' ' -f1 "$tmp/table" | tr '\n' ' ')
status=0

allowed() { # allowed FROM TO
    [ "$1" = "$2" ] && return 0
    row=$(awk -v l="$1" '$1 == l { $1 = ""; print }' "$tmp/table")
    case " $row " in *" every layer "*) return 0 ;; *" $2 "*) return 0 ;; esac
    return 1
}

# Every folder of src/ is a layer of the table.
for d in src/*/; do
    l=$(basename "$d")
    case " $layers " in *" $l "*) ;; *) echo "layers: src/$l is in no row of docs/DESIGN.md's table"; status=1 ;; esac
done

# Private headers: src/LAYER/x.h may be included from LAYER and the layers allowed to call it.
for f in $(find src -name '*.[ch]' | sort); do
    from=$(echo "$f" | cut -d/ -f2)
    for to in $(sed -n 's/^#include "\([a-z0-9]*\)\/[^"]*\.h".*/\1/p' "$f" | sort -u); do
        [ "$to" = evercert ] && continue
        if ! allowed "$from" "$to"; then
            echo "layers: $f includes a private header of $to/ ($from/ may not call $to/)"
            status=1
        fi
    done
done

# Symbols: where each global is defined, then every undefined use across layers.
# Objects of sources that still exist (a moved file leaves its old object in a build tree).
objs=$(find "$build" -path '*/src/*' -name '*.o' 2>/dev/null | grep -E '/CMakeFiles/evercert(_objs|_demo)?\.dir/' | sort |
    while read -r o; do
        [ -f "src/${o##*/src/}" ] || [ -f "src/$(echo "${o##*/src/}" | sed 's/\.o$//')" ] && echo "$o"
    done || true)
if [ -z "$objs" ]; then
    echo "layers: no objects under $build; symbols not checked (build first)"
else
    for o in $objs; do
        l=$(echo "$o" | sed 's|.*/src/\([a-z0-9]*\)/.*|\1|')
        nm --defined-only -g "$o" | awk -v l="$l" 'NF == 3 { print $3, l }'
    done | sort -u >"$tmp/defs"
    for o in $objs; do
        l=$(echo "$o" | sed 's|.*/src/\([a-z0-9]*\)/.*|\1|')
        nm -u "$o" | awk '{ print $NF }' | sort -u | join - "$tmp/defs" |
            while read -r sym to; do
                if ! allowed "$l" "$to"; then
                    echo "layers: ${o#"$build"/} ($l/) uses $sym of $to/"
                fi
            done
    done >"$tmp/bad"
    # A public header belongs to one layer: every function it declares is defined there.
    for h in include/evercert/*.h; do
        tr '\n' ' ' <"$h" | grep -oE 'EVC_EXPORT[^;{]*\b(evc_[a-z0-9_]+) *\(' |
            sed 's/.*\b\(evc_[a-z0-9_]*\) *($/\1/' | sort -u | join - "$tmp/defs" | cut -d' ' -f2 | sort -u >"$tmp/hl"
        if [ "$(wc -l <"$tmp/hl")" -gt 1 ]; then
            echo "layers: $h declares functions of $(tr '\n' ' ' <"$tmp/hl")(one header, one layer)"
        elif [ -s "$tmp/hl" ]; then
            echo "$(basename "$h" .h) $(cat "$tmp/hl")" >>"$tmp/hmap"
        fi
    done >>"$tmp/bad"
    # Public headers are included only where their layer may be called, and include likewise.
    touch "$tmp/hmap"
    for f in $(find src include/evercert -name '*.[ch]' | sort); do
        case "$f" in
        include/*) from=$(awk -v h="$(basename "$f" .h)" '$1 == h { print $2 }' "$tmp/hmap") ;;
        *) from=$(echo "$f" | cut -d/ -f2) ;;
        esac
        [ -n "$from" ] || continue
        for h in $(sed -n 's/^#include "evercert\/\([a-z0-9_]*\)\.h".*/\1/p' "$f" | sort -u); do
            to=$(awk -v h="$h" '$1 == h { print $2 }' "$tmp/hmap")
            if [ -n "$to" ] && ! allowed "$from" "$to"; then
                echo "layers: $f ($from/) includes evercert/$h.h of $to/"
            fi
        done
    done >>"$tmp/bad"
    if [ -s "$tmp/bad" ]; then
        cat "$tmp/bad"
        status=1
    fi
fi
[ $status = 0 ] && echo "layers: ok ($(echo "$objs" | grep -c . || true) objects)"
exit $status
