#!/usr/bin/env bash
# The library must load and run on any x86-64 CPU (SSE2): instructions of later extensions (AVX
# and its VEX/EVEX encodings, FMA, AVX-512 mask registers, BMI2 and friends) may appear only in the
# kernels compiled for those paths (functions named *_avx2_<variant>, *_avx512_<variant> in
# Sources/DescentSupport/step_kernels.c, variant f32, f64, or the compact-state bf16n, bf16s, q8), which run only after a CPU check. `tzcnt` is allowed: it
# is `rep bsf`, which CPUs without BMI1 execute as `bsf` (compilers emit it where the input is
# known non-zero).
#   scripts/check-baseline-isa.sh build/lib/libdescent.so
set -euo pipefail
library=${1:?usage: check-baseline-isa.sh path/to/libdescent.so}
if [ "$(uname -m)" != x86_64 ]; then
    echo "baseline-isa: not an x86-64 build, nothing to check (1 passed, 0 failed)"
    exit 0
fi
command -v objdump >/dev/null || { echo "baseline-isa: objdump (binutils) is missing" >&2; exit 1; }
report=$(objdump -d --no-show-raw-insn "$library" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; next }
    /^ +[0-9a-f]+:\t/ {
        if (fn ~ /_(avx2|avx512)_(f32|f64|bf16n|bf16s|q8)>:$/) { kernels++; next }
        if ($2 ~ /^(v[a-z0-9]+|andn|bextr|blsi|blsr|bzhi|pdep|pext|sarx|shlx|shrx|rorx|mulx|lzcnt|popcnt|kmov[bwdq]|kand[bwdq]?|kor[bwdq]?)$/ || $0 ~ /%[yz]mm|%k[0-7]/) {
            bad[fn " " $2]++
        }
    }
    END {
        for (k in bad) print "  " k " (" bad[k] "x)"
        print "kernels " kernels + 0
    }')
kernels=$(echo "$report" | sed -n 's/^kernels //p')
offenders=$(echo "$report" | grep -v '^kernels ' || true)
if [ -n "$offenders" ]; then
    echo "baseline-isa: instructions beyond baseline x86-64 outside the dispatched kernels:"
    echo "$offenders" | head -20
    echo "baseline-isa: 0 passed, 1 failed"
    exit 1
fi
if [ "$kernels" -lt 100 ]; then
    echo "baseline-isa: the AVX2/AVX-512 kernels are missing from $library ($kernels instructions)"
    echo "baseline-isa: 0 passed, 1 failed"
    exit 1
fi
echo "baseline-isa: only the dispatched kernels ($kernels instructions) use AVX2/AVX-512; everything else is baseline x86-64 (1 passed, 0 failed)"
