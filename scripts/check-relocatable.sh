#!/usr/bin/env bash
# The .so must load from any folder with an empty environment: copy it somewhere new and load it
# with `env -i python3`, then run the textbook example through the copied library.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build/lib/libdescent.so}
python=$(command -v python3)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$lib" "$tmp/libdescent.so"
env -i "$python" -c "import ctypes; ctypes.CDLL('$tmp/libdescent.so')"
if readelf -d "$tmp/libdescent.so" | grep -q '/opt/swift'; then
    echo "relocatable: the toolchain path is in RUNPATH (0 passed, 1 failed)"; exit 1
fi
env -i DESCENT_LIBRARY="$tmp/libdescent.so" PYTHONPATH="$PWD/python" "$python" -c "
import descent
assert descent.library_path == '$tmp/libdescent.so', descent.library_path
w = descent.tensor([10.0]); g = descent.zeros(1)
for _ in range(200):
    g.copy_from(0.2 * (w.numpy() - 5.0)); descent.gd_step(w, g, 1.0)
assert abs(w.numpy()[0] - 5.0) < 1e-12, w.numpy()
"
echo "relocatable: loaded from $tmp with env -i (1 passed, 0 failed)"
