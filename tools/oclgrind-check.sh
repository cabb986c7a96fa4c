#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the OpenCL op tests under oclgrind (data-race, bounds and API checking) and fails on any
# oclgrind diagnostic or test failure.
#
# usage: tools/oclgrind-check.sh [--full] [BUILD_DIR]   (default: build)
#
# It runs the small-shape subset of the one op table (tests/test_ops with XFORMER_TEST_SMALL=1: every
# op on every OpenCL variant column, opencl, opencl+gpu and opencl+fused, in f32 and f16) and the
# OpenCL device tests. XFORMER_TEST_BACKENDS=opencl turns a missing device into a failure instead of
# a skip. --full runs the whole op table instead of the subset. Exit status 77 (meson's "skipped")
# when oclgrind is not installed.
set -eu

full=0
if [ "${1:-}" = "--full" ]; then
    full=1
    shift
fi
build=${1:-build}
bin=$build/tests/test_ops
if ! command -v oclgrind >/dev/null 2>&1; then
    echo "oclgrind-check: oclgrind is not installed (apt-get install oclgrind)" >&2
    exit 77
fi
if [ ! -x "$bin" ]; then
    echo "oclgrind-check: $bin not found; build first (meson setup $build && ninja -C $build)" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

patterns='^(Invalid |Read-write data race|Write-write data race|Uninitialized|Work-group divergence)|OpenCL runtime error|Oclgrind - '

# Runs "$@" under oclgrind with a private program cache (binaries built by oclgrind must not mix
# with a real device's); fails on diagnostics or a non-zero exit.
check() {
    log=$work/oclgrind.log
    status=0
    XFORMER_TEST_BACKENDS=$backends XFORMER_CACHE_DIR=$work/cache XFORMER_TEST_SMALL=${XFORMER_TEST_SMALL:-0} \
        oclgrind --data-races --check-api --max-errors 100 "$@" >"$log" 2>&1 || status=$?
    echo "$(basename "$1"): $(tail -n 1 "$log")"
    diagnostics=$(grep -E -c "$patterns" "$log" || true)
    if [ "$diagnostics" -ne 0 ]; then
        echo "oclgrind-check: $diagnostics oclgrind diagnostics in $1:" >&2
        grep -E -A 8 "$patterns" "$log" | head -n 200 >&2
        exit 1
    fi
    if [ "$status" -ne 0 ]; then
        echo "oclgrind-check: $1 failed under oclgrind (exit $status):" >&2
        grep -E '^\[(----|FAIL)\]' "$log" | head -n 100 >&2
        exit 1
    fi
}

backends=opencl
if [ "$full" -eq 1 ]; then
    check "$bin" -j2
else
    XFORMER_TEST_SMALL=1 check "$bin" -j2
fi
# The build-failure test breaks a program on purpose, which --check-api rightly reports.
check "$build/tests/test_opencl_device" -j2 --filter '!(opencl_errors/build_failure*)'

echo "oclgrind-check: clean (no data races, out-of-bounds accesses or API errors)"
