#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test Descent, and does nothing (quickly) when
# everything is present: OpenBLAS headers and library (Debian: libopenblas-dev), and NumPy and
# pytest for the python3 on PATH.
set -euo pipefail

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
    echo "ensure-deps: installing ${need_apt[*]}"
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd=sudo; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python packages: pip for a pyenv/venv python3; Debian's own /usr/bin/python3 is "externally
# managed" (pip refuses), so its packages come from apt instead.
pip_or_apt() {  # pip_or_apt <python module> <pip package> <Debian package>
    if python3 -c "import $1" 2>/dev/null; then return; fi
    if [ "$(command -v python3)" = /usr/bin/python3 ]; then
        echo "ensure-deps: installing $3 (apt) for /usr/bin/python3"
        sudo_cmd=""
        if [ "$(id -u)" != 0 ]; then sudo_cmd=sudo; fi
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$3" >/dev/null
    else
        echo "ensure-deps: installing $2 (pip) for $(command -v python3)"
        python3 -m pip install --quiet "$2"
    fi
}
pip_or_apt numpy numpy python3-numpy
pip_or_apt pytest pytest python3-pytest
# `pip install --no-build-isolation ./python` (make test-install) needs setuptools' bdist_wheel,
# which older setuptools only have with the `wheel` package.
pip_or_apt wheel wheel python3-wheel
