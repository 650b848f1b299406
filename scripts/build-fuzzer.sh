#!/usr/bin/env bash
# Builds build/fuzz/checkpoint_fuzz: the libFuzzer target of Tests/fuzz/CheckpointFuzz.swift
# compiled into one module together with the Swift core's sources (Sources/Descent) and its C
# helpers (Sources/DescentSupport), everything instrumented with -sanitize=fuzzer,address, so
# the fuzzer's coverage guidance sees the checkpoint parser itself. Rebuilds only when a source
# is newer than the binary. Uses the toolchain's swiftc and clang (which ship libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/fuzz
binary=$out/checkpoint_fuzz
mapfile -t swift_sources < <(find Sources/Descent -name '*.swift' | sort)
sources=("${swift_sources[@]}" Tests/fuzz/CheckpointFuzz.swift Sources/DescentSupport/*.c
         Sources/DescentSupport/include/DescentSupport.h scripts/build-fuzzer.sh)
if [ -x "$binary" ] && [ -z "$(find "${sources[@]}" -newer "$binary" 2>/dev/null | head -1)" ]; then
    exit 0
fi
swiftc=$(command -v swiftc)
clang=$(dirname "$swiftc")/clang
mkdir -p "$out/module" "$out/obj"
cat > "$out/module/module.modulemap" <<MAP
module DescentSupport {
    header "$PWD/Sources/DescentSupport/include/DescentSupport.h"
    export *
}
MAP
for source in Sources/DescentSupport/*.c; do
    "$clang" -c -O1 -g -fsanitize=fuzzer-no-link,address -fno-math-errno -ISources/DescentSupport/include \
        "$source" -o "$out/obj/$(basename "$source" .c).o"
done
echo "building $binary (the Swift core instrumented for libFuzzer and AddressSanitizer; ~1-3 min)"
"$swiftc" -sanitize=fuzzer,address -O -g -swift-version 6 -parse-as-library -module-name Descent \
    -I "$out/module" -Xcc -fno-math-errno -enforce-exclusivity=unchecked \
    "${swift_sources[@]}" Tests/fuzz/CheckpointFuzz.swift "$out"/obj/*.o \
    -lopenblas -lm -o "$binary.tmp" 2> >(grep -v "Cannot export local symbol '__asan" >&2)
mv -f "$binary.tmp" "$binary"
