#!/usr/bin/env bash
# The Python package's type hints: `mypy --strict` passes on the package (python/descent, which
# carries py.typed) and on a sample user script (python/tests/typing_sample.py), and reports an
# error on every line marked `# expect-error` of python/tests/typing_misuse.py (hints that were
# only `Any` would let those through).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "typing: $* (0 passed, 1 failed)"; exit 1; }
mypy=(python3 -m mypy --strict --no-incremental --cache-dir "$tmp/cache")
[ -f python/descent/py.typed ] || fail "python/descent/py.typed is missing"
(cd python && "${mypy[@]}" -p descent > "$tmp/package.log" 2>&1) || { cat "$tmp/package.log"; fail "mypy --strict fails on the package"; }
(cd python && "${mypy[@]}" tests/typing_sample.py > "$tmp/sample.log" 2>&1) || { cat "$tmp/sample.log"; fail "mypy --strict fails on the sample script"; }
(cd python && "${mypy[@]}" tests/typing_misuse.py > "$tmp/misuse.log" 2>&1) && fail "mypy --strict accepted the misuse script"
expected=$(grep -n "# expect-error$" python/tests/typing_misuse.py | cut -d: -f1 | sort -u)
reported=$(sed -n 's/^tests\/typing_misuse.py:\([0-9]*\): error:.*/\1/p' "$tmp/misuse.log" | sort -u)
missing=$(comm -23 <(echo "$expected") <(echo "$reported"))
unexpected=$(comm -13 <(echo "$expected") <(echo "$reported"))
[ -z "$missing" ] || { cat "$tmp/misuse.log"; fail "no error reported on misuse line(s) $(echo $missing)"; }
[ -z "$unexpected" ] || { cat "$tmp/misuse.log"; fail "errors on unmarked misuse line(s) $(echo $unexpected)"; }
echo "typing: mypy --strict passes on the package and the sample script, and reports each of $(echo "$expected" | wc -l) misuses (3 passed, 0 failed)"
