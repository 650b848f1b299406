#!/usr/bin/env bash
# `pip install ./python` (after make copied the .so into the package) into a scratch target
# folder, then import the installed package from elsewhere and use it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r python "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --no-deps --no-build-isolation --target "$tmp/site" "$tmp/src" >/dev/null
cd "$tmp"
env -u DESCENT_LIBRARY PYTHONPATH="$tmp/site" python3 -c "
import descent, numpy as np
assert descent.library_path.startswith('$tmp/site'), descent.library_path
t = descent.tensor(np.arange(6.0).reshape(2, 3))
assert t.shape == (2, 3) and t.sum() == 15.0
"
echo "install: pip install ./python works (1 passed, 0 failed)"
