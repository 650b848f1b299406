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
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "ensure-deps: installing ${need_apt[*]}"
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd=sudo; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 -c 'import numpy, pytest' 2>/dev/null; then
    echo "ensure-deps: installing numpy and pytest for $(command -v python3)"
    python3 -m pip install --quiet numpy pytest
fi
# `pip install --no-build-isolation ./python` (make test-install) needs setuptools' bdist_wheel,
# which older setuptools only have with the `wheel` package.
if ! python3 -c 'import wheel' 2>/dev/null; then
    echo "ensure-deps: installing wheel for $(command -v python3)"
    python3 -m pip install --quiet wheel
fi
