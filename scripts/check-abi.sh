#!/usr/bin/env bash
# Fails when include/descent.h and libdescent.so disagree:
#  1. every exported descent_* symbol is declared in the header, and every declared function is
#     exported (symbol lists compared both ways);
#  2. every signature agrees: the Swift compiler's own header for the @c exports
#     (.build/descent-generated.h, written by the DescentC build) is compiled in one translation
#     unit with include/descent.h, so any type mismatch is a "conflicting types" error.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build/lib/libdescent.so}
generated=.build/descent-generated.h
header=include/descent.h

exported=$(nm -D --defined-only "$lib" | awk '$2=="T"{print $3}' | grep '^descent_' | sort -u)
declared=$(grep -oE '\bdescent_[a-z0-9_]+[[:space:]]*\(' "$header" | tr -d '( \t' | sort -u)
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
status=0
if [ -n "$missing" ]; then echo "declared in $header but not exported by $lib:"; echo "$missing"; status=1; fi
if [ -n "$extra" ]; then echo "exported by $lib but not declared in $header:"; echo "$extra"; status=1; fi

if [ ! -f "$generated" ]; then echo "missing $generated (build the library first)"; exit 1; fi
generated_count=$(grep -cE '^SWIFT_EXTERN .*\bdescent_[a-z0-9_]+\(' "$generated" || true)
exported_count=$(echo "$exported" | grep -c . || true)
if [ "$generated_count" != "$exported_count" ]; then
    echo "the Swift-generated header declares $generated_count descent_ functions, the library exports $exported_count"
    status=1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/abi.c" <<C
#include "descent.h"
#include "$PWD/$generated"
int main(void) { return 0; }
C
if ! cc -std=c11 -Werror=incompatible-pointer-types -Wno-attributes -I include \
        -c "$tmp/abi.c" -o "$tmp/abi.o" 2> "$tmp/err"; then
    echo "include/descent.h disagrees with the library's exported signatures:"
    cat "$tmp/err"
    status=1
fi
if [ $status -eq 0 ]; then
    echo "abi: $exported_count functions; header and library agree (1 passed, 0 failed)"
else
    echo "abi: 0 passed, 1 failed"
fi
exit $status
