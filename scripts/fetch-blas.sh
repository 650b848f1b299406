#!/usr/bin/env bash
# Puts a newer OpenBLAS beside the library: libscipy_openblas.so from the scipy-openblas32 wheel
# on PyPI (OpenBLAS 0.3.34, the build NumPy's own wheels use; LP64, self-contained, symbols
# prefixed scipy_) into build/blas/. libdescent.so loads it at run time when it sits in the same
# folder (descent_blas_name() says which BLAS serves), because Debian's OpenBLAS 0.3.21 runs the
# small sgemm/dgemm of a training step on one core where 0.3.34 uses both (bench/mlp_epoch.py).
# Without it (no network, DESCENT_NO_INSTALL=1) everything works on the system OpenBLAS.
set -euo pipefail
cd "$(dirname "$0")/.."
target=build/blas/libscipy_openblas.so
package="scipy-openblas32==0.3.34.481.3"
[ -f "$target" ] && exit 0
if [ "${DESCENT_NO_INSTALL:-0}" = 1 ]; then
    echo "fetch-blas: DESCENT_NO_INSTALL=1, not downloading $package; the system OpenBLAS will serve" >&2
    exit 0
fi
mkdir -p build/blas
echo "fetch-blas: downloading $package (pip download, ~8 MB): a newer OpenBLAS for faster matrix products"
if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --dest build/blas "$package" >/dev/null 2>&1; then
    echo "fetch-blas: could not download $package; the system OpenBLAS will serve" >&2
    exit 0
fi
python3 - "$target" <<'PY'
import glob, sys, zipfile
wheel = sorted(glob.glob("build/blas/scipy_openblas32-*.whl"))[-1]
with zipfile.ZipFile(wheel) as archive:
    data = archive.read("scipy_openblas32/lib/libscipy_openblas.so")
with open(sys.argv[1] + ".tmp", "wb") as out:
    out.write(data)
PY
mv -f "$target.tmp" "$target"
rm -f build/blas/scipy_openblas32-*.whl
