#!/usr/bin/env bash
# `make install PREFIX=<temporary prefix>` as a C user would run it, then:
#  1. the files: libdescent.so.ABI.MINOR.PATCH with its soname (libdescent.so.ABI, the
#     DESCENT_ABI_VERSION of the header) and the two links, descent.h, descent.pc, the CMake
#     package;
#  2. an example program (examples/textbook_quadratic.c, copied out of the repository) compiled
#     with `pkg-config --cflags --libs descent` alone and run against the installed library;
#  3. the same program built by CMake through find_package(descent), and a request for an
#     incompatible version refused;
#  4. `make uninstall PREFIX=...` removes exactly what install wrote (a file already in the
#     prefix stays).
set -euo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
passed=0
pass() { passed=$((passed + 1)); }
fail() { echo "c-install: $* ($passed passed, 1 failed)"; exit 1; }

abi=$(sed -n 's/^#define DESCENT_ABI_VERSION \([0-9][0-9]*\).*/\1/p' include/descent.h)
version=$(cat VERSION)
IFS=. read -r _ minor patch <<< "$version"
mkdir -p "$prefix/lib"
echo "not ours" > "$prefix/lib/unrelated.txt"

"$make" --no-print-directory -s install PREFIX="$prefix" > "$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log"; fail "make install failed"; }

# 1. Files, links and soname.
real=libdescent.so.$abi.$minor.$patch
[ -f "$prefix/lib/$real" ] && [ ! -L "$prefix/lib/$real" ] || fail "missing $prefix/lib/$real"
[ "$(readlink "$prefix/lib/libdescent.so.$abi")" = "$real" ] || fail "libdescent.so.$abi does not point at $real"
[ "$(readlink "$prefix/lib/libdescent.so")" = "libdescent.so.$abi" ] || fail "libdescent.so does not point at libdescent.so.$abi"
soname=$(readelf -d "$prefix/lib/$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libdescent.so.$abi" ] || fail "soname is '$soname', expected libdescent.so.$abi"
cmp -s include/descent.h "$prefix/include/descent.h" || fail "installed descent.h differs"
pass

# 2. pkg-config alone, from outside the repository.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion descent)" = "$version" ] || fail "pkg-config --modversion is not $version"
mkdir "$tmp/user"
cp examples/textbook_quadratic.c "$tmp/user/main.c"
(cd "$tmp/user" && cc -std=c11 -Wall -Wextra -Werror main.c -o main $(pkg-config --cflags --libs descent)) \
    || fail "the example does not compile with pkg-config --cflags --libs descent"
readelf -d "$tmp/user/main" | grep -q "NEEDED.*\[libdescent.so.$abi\]" || fail "the program does not need libdescent.so.$abi"
output=$(cd "$tmp/user" && env -i LD_LIBRARY_PATH="$prefix/lib" ./main) || fail "the pkg-config build does not run"
grep -q "converged: W = 5.0000" <<< "$output" || fail "unexpected output: $output"
if [ -f build/lib/libscipy_openblas.so ]; then  # installed beside the library, and chosen there
    printf '#include <stdio.h>\n#include <descent.h>\nint main(void) { puts(descent_blas_name()); return 0; }\n' \
        > "$tmp/user/blas.c"
    (cd "$tmp/user" && cc blas.c -o blas $(pkg-config --cflags --libs descent)) || fail "blas.c does not compile"
    blas=$(env -i LD_LIBRARY_PATH="$prefix/lib" "$tmp/user/blas")
    [ "$blas" = "$prefix/lib/libscipy_openblas.so" ] || fail "the installed library uses '$blas', not the installed bundled OpenBLAS"
fi
pass

# 3. CMake: find_package(descent) and descent::descent; an incompatible version is refused.
if command -v cmake > /dev/null; then
    mkdir "$tmp/cmake-user"
    cp examples/textbook_quadratic.c "$tmp/cmake-user/main.c"
    cat > "$tmp/cmake-user/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(descent_user C)
find_package(descent $version REQUIRED)
add_executable(main main.c)
target_link_libraries(main PRIVATE descent::descent)
CMAKE
    cmake -S "$tmp/cmake-user" -B "$tmp/cmake-user/build" -DCMAKE_PREFIX_PATH="$prefix" \
        > "$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake cannot configure with find_package(descent)"; }
    cmake --build "$tmp/cmake-user/build" > "$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake build failed"; }
    output=$(env -i LD_LIBRARY_PATH="$prefix/lib" "$tmp/cmake-user/build/main") || fail "the CMake build does not run"
    grep -q "converged: W = 5.0000" <<< "$output" || fail "unexpected output from the CMake build: $output"
    sed -i "s/find_package(descent $version REQUIRED)/find_package(descent 99.0 REQUIRED)/" "$tmp/cmake-user/CMakeLists.txt"
    if cmake -S "$tmp/cmake-user" -B "$tmp/cmake-user/build99" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake.log" 2>&1; then
        fail "find_package(descent 99.0) accepted version $version"
    fi
    pass
else
    echo "c-install: cmake not installed, find_package(descent) not checked (scripts/ensure-deps.sh --test installs it)"
fi

# 4. Uninstall removes exactly the installed files.
"$make" --no-print-directory -s uninstall PREFIX="$prefix" > "$tmp/uninstall.log" 2>&1 \
    || { cat "$tmp/uninstall.log"; fail "make uninstall failed"; }
left=$(cd "$prefix" && find . \( -type f -o -type l \) | sort)
[ "$left" = "./lib/unrelated.txt" ] || fail "after uninstall the prefix holds: $left"
[ ! -e "$prefix/lib/cmake/descent" ] || fail "lib/cmake/descent is left behind"
pass

echo "c-install: install, pkg-config, CMake, uninstall into $prefix ($passed passed, 0 failed)"
