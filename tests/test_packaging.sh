#!/bin/sh
# Installs the build into a staging directory and builds tests/packaging/consumer.c three ways, as users
# would: through pkg-config with only xformer.pc on the search path, through CMake's
# find_package(xformer), and with libxformer as a meson subproject. Each consumer must run, and the
# installed programs must start from the staging directory (they find the library relative to themselves).
# usage: test_packaging.sh SOURCE_DIR BUILD_DIR VERSION
set -u
src=$1
build=$2
version=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    [ -f "$tmp/log" ] && tail -n 30 "$tmp/log"
    exit 1
}

meson install -C "$build" --no-rebuild --destdir "$tmp/stage" >"$tmp/log" 2>&1 || fail "meson install"
pc=$(find "$tmp/stage" -name xformer.pc)
[ -n "$pc" ] || fail "no xformer.pc installed"
prefix=$(sed -n 's/^prefix=//p' "$pc")
libdir=$(dirname "$(dirname "$pc")")

# pkg-config: nothing but xformer.pc on the path; the staging directory acts as the sysroot.
mkdir -p "$tmp/pc"
cp "$pc" "$tmp/pc/"
flags=$(PKG_CONFIG_LIBDIR="$tmp/pc" PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR="$tmp/stage" \
        pkg-config --cflags --libs xformer 2>"$tmp/log") || fail "pkg-config --cflags --libs xformer"
# shellcheck disable=SC2086
cc -std=c11 -o "$tmp/pkgconfig-consumer" "$src/tests/packaging/consumer.c" $flags -lm >"$tmp/log" 2>&1 ||
    fail "building the consumer with pkg-config flags: $flags"
LD_LIBRARY_PATH="$libdir" "$tmp/pkgconfig-consumer" >"$tmp/log" 2>&1 || fail "the pkg-config consumer"
echo "pkg-config: $(cat "$tmp/log")"

# CMake: find_package(xformer VERSION EXACT) from the staged prefix.
if command -v cmake >/dev/null; then
    cmake -S "$src/tests/packaging" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/stage$prefix" \
          -DXF_EXPECT_VERSION="$version" >"$tmp/log" 2>&1 || fail "cmake configure (find_package(xformer))"
    cmake --build "$tmp/cmake" >"$tmp/log" 2>&1 || fail "cmake build"
    "$tmp/cmake/consumer" >"$tmp/log" 2>&1 || fail "the CMake consumer"
    echo "cmake: $(cat "$tmp/log")"
else
    fail "cmake is not installed (Debian package cmake)"
fi

# meson subproject: only the consumer and what it needs are built.
mkdir -p "$tmp/meson/subprojects"
cp "$src/tests/packaging/meson.build" "$src/tests/packaging/consumer.c" "$tmp/meson/"
ln -s "$(cd "$src" && pwd)" "$tmp/meson/subprojects/libxformer"
meson setup "$tmp/meson/build" "$tmp/meson" >"$tmp/log" 2>&1 || fail "meson setup with libxformer as a subproject"
ninja -C "$tmp/meson/build" consumer >"$tmp/log" 2>&1 || fail "building the subproject consumer"
"$tmp/meson/build/consumer" >"$tmp/log" 2>&1 || fail "the subproject consumer"
echo "meson subproject: $(cat "$tmp/log")"
# Installed programs run from the staging directory without LD_LIBRARY_PATH.
for tool in "$tmp/stage$prefix"/bin/*; do
    "$tool" --version >"$tmp/log" 2>&1 || fail "$(basename "$tool") --version"
    grep -q "$version" "$tmp/log" || fail "$(basename "$tool") --version does not print $version"
done
echo "installed tools: $(ls "$tmp/stage$prefix/bin" | tr '\n' ' ')"
