#!/usr/bin/env bash
# Descent as a SwiftPM dependency, the way another package uses it: by git URL and version.
#  1. A snapshot of the working tree (tracked and new files, not ignored ones) becomes a git
#     repository tagged with the release in VERSION.
#  2. The example package examples/swift-consumer, copied out of the repository, depends on it
#     through a file:// URL `from:` that version (a versioned remote dependency: SwiftPM refuses
#     unsafeFlags in any target of the product it uses), builds in release and runs; its output
#     is checked.
#  3. The check can fail: the snapshot's Descent target given an unsafe flag and tagged as the
#     next patch release is refused by SwiftPM ("contains unsafe build flags").
set -euo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(cat VERSION)
fail() { echo "swift-consumer: $* (0 passed, 1 failed)"; exit 1; }
git_commit() { git -c user.name=check -c user.email=check@localhost commit -q "$@"; }

mkdir "$tmp/descent"
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done \
    | xargs -0 cp --parents -t "$tmp/descent"
(cd "$tmp/descent" && git init -q && git add -A && git_commit -m "snapshot" && git tag "$version")

cp -r examples/swift-consumer "$tmp/consumer"
rm -rf "$tmp/consumer/.build" "$tmp/consumer/Package.resolved"
export DESCENT_GIT_URL="file://$tmp/descent"
start=$(date +%s)
if ! (cd "$tmp/consumer" && "$swift" build -c release > "$tmp/build.log" 2>&1); then
    tail -30 "$tmp/build.log"; fail "the consumer package does not build"
fi
if grep -i "warning:" "$tmp/build.log"; then fail "building the consumer printed warnings"; fi
output=$("$tmp/consumer/.build/release/DescentExample") || { echo "$output"; fail "the consumer program failed"; }
built=$(( $(date +%s) - start ))
[ -z "${SHOW_OUTPUT:-}" ] || echo "$output"
expect() { grep -qE "$1" <<< "$output" || { echo "$output"; fail "output lacks /$1/"; }; }
expect "^W after 50 steps: 5\.0000713"
expect "^after 3000 steps: \(x, y\) = \(0\.99[0-9]*, 0\.9[89][0-9]*\)"
expect "largest relative error [0-9.]+e-(0?9|1[0-9])$"
expect "^evaluate: loss 0\.[0-9]+, accuracy (0\.9[5-9][0-9]*|1\.0)$"
expect "^caught shape: "

# 3. The same dependency with an unsafe flag in the product's target must be refused.
(cd "$tmp/descent" \
    && sed -i 's|            dependencies: \["DescentSupport"\]$|            dependencies: ["DescentSupport"], swiftSettings: [.unsafeFlags(["-Onone"])]|' Package.swift \
    && grep -q 'unsafeFlags(\["-Onone"\])' Package.swift \
    && git_commit -am "unsafe" && git tag "${version%.*}.$(( ${version##*.} + 1 ))") \
    || fail "could not prepare the unsafe-flags snapshot"
if (cd "$tmp/consumer" && "$swift" package update > "$tmp/update.log" 2>&1 && "$swift" build -c release > "$tmp/unsafe.log" 2>&1); then
    fail "SwiftPM accepted a dependency whose Descent target has unsafeFlags (the check above proves nothing)"
fi
grep -q "contains unsafe build flags" "$tmp/unsafe.log" "$tmp/update.log" \
    || { cat "$tmp/update.log" "$tmp/unsafe.log" | tail -20; fail "the unsafe-flags build failed for another reason"; }
echo "swift-consumer: a package depending on descent $version by URL builds (release, ${built}s) and runs; unsafe flags would be refused (2 passed, 0 failed)"
