#!/usr/bin/env bash
# `pip wheel ./python` (after make copied the library into the package), then:
#  1. the wheel is tagged for this platform (py3-none-<platform>, not py3-none-any), is not
#     marked pure, carries libdescent.so, py.typed and descent._accel (compiled by the wheel build
#     itself for this Python), and pip refuses it for another platform;
#  2. it installs into a fresh virtual environment (no system site-packages; NumPy comes from a
#     wheel cache in build/wheelhouse, filled once by `pip download`) and imports and runs with an
#     empty environment (`env -i`), the library loaded from the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(command -v python3)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(cat VERSION)
passed=0
fail() { echo "wheel: $* ($passed passed, 1 failed)"; exit 1; }
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

cp -r python "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info "$tmp/src/tests" "$tmp/src"/descent/_accel*.so
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +
# The build backend (setuptools) comes from the index into pip's isolated build environment, as
# for any user; offline, the installed setuptools builds it instead.
if ! "$python" -m pip wheel --quiet --no-deps -w "$tmp/dist" "$tmp/src" > "$tmp/wheel.log" 2>&1; then
    echo "wheel: isolated build failed (offline?), building with the installed setuptools"
    "$python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/src" > "$tmp/wheel.log" 2>&1 \
        || { cat "$tmp/wheel.log"; fail "pip wheel ./python failed"; }
fi
platform=$("$python" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')
wheel=$tmp/dist/descent-$version-py3-none-$platform.whl
[ -f "$wheel" ] || fail "expected $(basename "$wheel"), pip built: $(ls "$tmp/dist")"
"$python" - "$wheel" <<'PY' || fail "the wheel's contents or metadata are wrong"
import sys, sysconfig, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
accel = "descent/_accel" + sysconfig.get_config_var("EXT_SUFFIX")
for required in ("descent/libdescent.so", "descent/py.typed", "descent/__init__.py", accel):
    assert required in names, f"{required} is missing from the wheel"
assert not any(n.startswith("tests/") for n in names), "the tests are packaged"
wheel = next(n for n in names if n.endswith(".dist-info/WHEEL"))
text = zipfile.ZipFile(sys.argv[1]).read(wheel).decode()
assert "Root-Is-Purelib: false" in text, text
assert "Tag: py3-none-" in text and "py3-none-any" not in text, text
PY
if "$python" -m pip install --quiet --dry-run --no-deps --only-binary=:all: --platform macosx_11_0_arm64 \
        --target "$tmp/other" "$wheel" > /dev/null 2>&1; then
    fail "pip would install the $platform wheel on macOS arm64"
fi
passed=$((passed + 1))

# NumPy for the venv: a wheel cache kept under build/ (one download, then offline).
cache=build/wheelhouse
numpy_version=$("$python" -c 'import numpy; print(numpy.__version__)')
if ! ls "$cache"/numpy-"$numpy_version"-*.whl > /dev/null 2>&1; then
    echo "wheel: caching the numpy $numpy_version wheel in $cache (pip download, once)"
    "$python" -m pip download --quiet --only-binary=:all: --no-deps -d "$cache" "numpy==$numpy_version" > /dev/null \
        || fail "cannot download numpy $numpy_version into $cache"
fi
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -c "import sys; assert sys.prefix != sys.base_prefix" || fail "not a virtual environment"
if "$tmp/venv/bin/python" -c "import numpy" 2> /dev/null; then fail "the fresh venv already sees numpy"; fi
env -u PIP_FIND_LINKS "$tmp/venv/bin/python" -m pip install --quiet --no-index --find-links "$cache" "$wheel" \
    > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "installing the wheel into a fresh venv failed"; }
bundled=$([ -f python/descent/libscipy_openblas.so ] && echo 1 || echo 0)
cd "$tmp"
env -i "$tmp/venv/bin/python" - "$tmp/venv" "$version" "$bundled" <<'PY' || fail "importing or using the installed wheel failed"
import os, sys
import numpy as np
import descent
venv, version, bundled = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
assert set(os.environ) <= {"LC_CTYPE"}, os.environ  # (Python's own C-locale coercion)
assert descent.__file__.startswith(venv), descent.__file__
assert descent.library_path.startswith(venv), descent.library_path
assert descent.__version__ == version, (descent.__version__, version)
w = np.array([10.0])
for _ in range(200):
    descent.gd_step(w, 0.2 * (w - 5.0), 1.0)   # NumPy arrays in, updated in place
assert abs(w[0] - 5.0) < 1e-12, w
opt = descent.optim.Adam([np.zeros(3)], lr=0.1)
opt.step([np.ones(3)])
assert descent.accelerated(), "descent._accel did not load from the wheel"
p, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
descent.functional.adam(p, np.ones(3), m, v, step=1, lr=0.1)   # through descent._accel
assert np.allclose(p, -0.1), p
if bundled:  # the newer OpenBLAS travels in the wheel and is the one chosen
    assert descent.blas_name().startswith(venv), descent.blas_name()
PY
passed=$((passed + 1))
echo "wheel: $(basename "$wheel") installs into a fresh venv and runs under env -i ($passed passed, 0 failed)"
