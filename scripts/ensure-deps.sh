#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test Descent, and does nothing (quickly) when
# everything is present: OpenBLAS headers and library (Debian: libopenblas-dev), NumPy and pytest
# for the python3 on PATH, and the packages the demos and the tests that run them use
# (scikit-learn, matplotlib, tqdm).
#
#   scripts/ensure-deps.sh          build deps (every make target)
#   scripts/ensure-deps.sh --demo   also scikit-learn, matplotlib, tqdm (make demo, make test)
#   scripts/ensure-deps.sh --mpi    also Open MPI (Debian: openmpi-bin for mpirun, libopenmpi-dev for
#                                   mpicc and mpi.h) and mpi4py: the data-parallel tests, make bench
#   scripts/ensure-deps.sh --test   also what the packaging checks of `make test` use: pkg-config
#                                   and cmake (the installed C library), mypy (type checks), the
#                                   venv module (the wheel in a fresh virtual environment)
#
# DESCENT_NO_INSTALL=1 installs nothing: a missing package is then an error that names it.
set -euo pipefail

demo=0
test_tools=0
mpi=0
for argument in "$@"; do
    case "$argument" in
        --demo) demo=1 ;;
        --test) test_tools=1 ;;
        --mpi) mpi=1 ;;
        *) echo "usage: scripts/ensure-deps.sh [--demo] [--test] [--mpi]" >&2; exit 2 ;;
    esac
done
no_install=0
case "${DESCENT_NO_INSTALL:-0}" in ""|0|false|no) ;; *) no_install=1 ;; esac

missing() {  # missing <package> <why> <how to install it>: an error when installing is off
    echo "ensure-deps: $1 is missing ($2) and DESCENT_NO_INSTALL is set, so it is not installed;" \
         "install it yourself: $3" >&2
    exit 1
}

apt_updated=0
apt_install() {  # apt_install <package>...
    local sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd=sudo; fi
    if [ "$apt_updated" = 0 ]; then
        $sudo_cmd apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

need_apt=()
if [ ! -e /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -e /usr/include/cblas.h ] \
   && [ ! -e /usr/include/openblas/cblas.h ]; then
    need_apt+=(libopenblas-dev)
elif ! ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\b'; then
    need_apt+=(libopenblas-dev)
fi
# The embedded test runner links libpython and includes Python.h of the python3 on PATH. A
# pyenv or python.org build ships both; Debian's /usr/bin/python3 needs python3-dev for them.
python_include=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
python_library=$(python3 -c 'import sysconfig, os; v = sysconfig.get_config_var; print(os.path.join(v("LIBDIR"), v("LDLIBRARY")))')
if [ ! -f "$python_include/Python.h" ] || [ ! -e "$python_library" ]; then
    if [ "$(command -v python3)" = /usr/bin/python3 ]; then
        need_apt+=(python3-dev)
    else
        echo "ensure-deps: $(command -v python3) has no Python.h or $python_library; install its development files" >&2
        exit 1
    fi
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$no_install" = 1 ]; then
        missing "${need_apt[*]}" "the build needs OpenBLAS and the embedded runner Python.h" \
                "apt-get install ${need_apt[*]}"
    fi
    echo "ensure-deps: installing ${need_apt[*]} (apt): the build needs OpenBLAS and the embedded runner Python.h"
    apt_install "${need_apt[@]}"
fi

# Python packages: pip for a pyenv/venv python3; Debian's own /usr/bin/python3 is "externally
# managed" (pip refuses), so its packages come from apt instead.
has_module() {  # has_module <python module>: found on python3's path (found, not imported: fast)
    python3 -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)" 2>/dev/null
}
pip_or_apt() {  # pip_or_apt <python module> <pip package> <Debian package> <why>
    if has_module "$1"; then return; fi
    if [ "$(command -v python3)" = /usr/bin/python3 ]; then
        if [ "$no_install" = 1 ]; then missing "$3" "$4" "apt-get install $3"; fi
        echo "ensure-deps: installing $3 (apt) for /usr/bin/python3: $4"
        apt_install "$3"
    else
        if [ "$no_install" = 1 ]; then missing "$2" "$4" "$(command -v python3) -m pip install $2"; fi
        echo "ensure-deps: installing $2 (pip) for $(command -v python3): $4"
        python3 -m pip install --quiet --disable-pip-version-check "$2"
    fi
    if ! python3 -c "import $1" 2>/dev/null; then
        echo "ensure-deps: installed $2, but python3 still cannot import $1" >&2
        exit 1
    fi
}
pip_or_apt numpy numpy python3-numpy "the Python package's arrays and the test references"
pip_or_apt pytest pytest python3-pytest "runs the Python test suite"
# `pip install --no-build-isolation ./python` (make test-install) needs setuptools' bdist_wheel,
# which older setuptools only have with the `wheel` package.
pip_or_apt wheel wheel python3-wheel "make test-install builds the package with setuptools' bdist_wheel"

if [ "$demo" = 1 ]; then
    # make demo runs these examples; make test runs them too (python/tests/test_examples.py).
    pip_or_apt sklearn scikit-learn python3-sklearn \
        "examples/demo_digits.py trains on its bundled handwritten digits, sklearn.datasets.load_digits"
    pip_or_apt matplotlib matplotlib python3-matplotlib \
        "the demos draw their PNGs (loss curves, optimizer paths, restarts); History.plot needs it"
    pip_or_apt tqdm tqdm python3-tqdm "descent.fit's progress bar and the digits demo's"
fi

if [ "$test_tools" = 1 ]; then
    # make test's packaging checks: scripts/check-c-install.sh, check-wheel.sh, check-typing.sh.
    need_apt=()
    command -v pkg-config > /dev/null || need_apt+=(pkgconf)
    command -v cmake > /dev/null || need_apt+=(cmake)
    if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
        if [ "$(command -v python3)" = /usr/bin/python3 ]; then
            need_apt+=(python3-venv)
        else
            echo "ensure-deps: $(command -v python3) has no venv/ensurepip module; the wheel check needs it" >&2
            exit 1
        fi
    fi
    if [ ${#need_apt[@]} -gt 0 ]; then
        why="the install check compiles a C program with pkg-config and CMake's find_package; the wheel check makes a fresh venv"
        if [ "$no_install" = 1 ]; then missing "${need_apt[*]}" "$why" "apt-get install ${need_apt[*]}"; fi
        echo "ensure-deps: installing ${need_apt[*]} (apt): $why"
        apt_install "${need_apt[@]}"
    fi
    pip_or_apt mypy mypy mypy "make test type-checks the Python package and a user script with mypy --strict"
fi

if [ "$mpi" = 1 ]; then
    # descent.distributed and examples/mpi: mpirun starts the ranks, mpicc builds the C example,
    # mpi4py (built against / loading this Open MPI) makes the Python package's MPI calls.
    need_apt=()
    command -v mpirun > /dev/null || need_apt+=(openmpi-bin)
    { command -v mpicc > /dev/null && [ -e /usr/include/x86_64-linux-gnu/mpi/mpi.h -o -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ]; } \
        || need_apt+=(libopenmpi-dev)
    if [ ${#need_apt[@]} -gt 0 ]; then
        why="the data-parallel tests run mpirun; make builds examples/mpi with mpicc"
        if [ "$no_install" = 1 ]; then missing "${need_apt[*]}" "$why" "apt-get install ${need_apt[*]}"; fi
        echo "ensure-deps: installing ${need_apt[*]} (apt): $why"
        apt_install "${need_apt[@]}"
    fi
    pip_or_apt mpi4py mpi4py python3-mpi4py "descent.distributed makes its MPI calls through mpi4py"
fi
