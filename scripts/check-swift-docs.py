#!/usr/bin/env python3
"""Every public declaration of the Swift core (Sources/Descent), the API another package sees
through the `Descent` library product, carries a `///` doc comment (directly above it, attribute
lines such as `@inlinable` aside). Enum cases and members of a documented `extension` block are
covered by their type's or block's comment only when they are not declared `public` themselves."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "Sources" / "Descent"
declaration = re.compile(r"^(@[\w()]+(\([^)]*\))?\s+)*public\b")
attribute_only = re.compile(r"^(@[\w]+(\([^)]*\))?\s*)+$")
total, missing = 0, []
for path in sorted(root.rglob("*.swift")):
    lines = path.read_text(encoding="utf-8").split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not declaration.match(stripped):
            continue
        total += 1
        above = index - 1
        while above >= 0 and attribute_only.match(lines[above].strip()):
            above -= 1
        if above < 0 or not (lines[above].strip().startswith("///") or lines[above].strip().endswith("*/")):
            missing.append(f"{path.relative_to(root.parent.parent)}:{index + 1}: {stripped[:90]}")
if missing:
    print("swift-docs: public declarations without a /// doc comment:")
    print("\n".join(missing))
    print(f"swift-docs: {total - len(missing)} of {total} documented (0 passed, 1 failed)")
    sys.exit(1)
print(f"swift-docs: all {total} public declarations of the Swift core are documented (1 passed, 0 failed)")
