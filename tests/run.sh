#!/bin/sh
# run.sh: the whole test suite. Usage: tests/run.sh [--quick]
#
#   1. unit tests (cmocka), one binary per module
#   2. CLI tests: tests/cli/t*.sh on the release binary
#   3. fuzz targets, each for a short bounded time (FUZZ_SECONDS, default 20)
#   4. unit and CLI tests again on the ASan+UBSan build
#
# --quick skips 3 and 4. Ends with "N passed, N failed"; exits 1 on any failure.
set -u
cd "$(dirname "$0")/.."
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
JOBS=$(nproc 2>/dev/null || echo 2)
PASSED=0
FAILED=0
FAILURES=""
LOG=$(mktemp -d "${TMPDIR:-/tmp}/savor-suite.XXXXXX")

result() { # name status logfile
    if [ "$2" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        echo "PASS $1"
    else
        FAILED=$((FAILED + 1))
        FAILURES="$FAILURES $1"
        echo "FAIL $1"
        sed 's/^/    /' "$3" | tail -n 40
    fi
}

run_suite() { # build-dir label
    build=$1
    label=$2
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        name="$label unit $(basename "$t")"
        "$t" >"$LOG/out" 2>&1
        result "$name" $? "$LOG/out"
    done
    for t in tests/cli/t*.sh; do
        name="$label cli $(basename "$t" .sh)"
        SAVOR="$PWD/$build/savor" sh "$t" >"$LOG/out" 2>&1
        result "$name" $? "$LOG/out"
    done
}

echo "== build (release)"
make -j"$JOBS" all >"$LOG/build" 2>&1 || { cat "$LOG/build"; echo "0 passed, 1 failed"; exit 1; }
run_suite build release

echo "== format"
make format-check >"$LOG/out" 2>&1
result "clang-format clean (make format-check)" $? "$LOG/out"

if [ "$QUICK" -eq 0 ]; then
    echo "== fuzz (${FUZZ_SECONDS}s per target)"
    if make -j"$JOBS" fuzz >"$LOG/fuzzbuild" 2>&1; then
        for f in build-fuzz/fuzz_*; do
            [ -x "$f" ] || continue
            name=$(basename "$f")
            target=${name#fuzz_}
            corpus=$(mktemp -d "$LOG/corpus.XXXXXX")
            [ -d "fuzz/corpus/$target" ] && cp -r "fuzz/corpus/$target/." "$corpus/"
            "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 -artifact_prefix="$LOG/" \
                "$corpus" >"$LOG/out" 2>&1
            result "fuzz $target" $? "$LOG/out"
        done
    else
        result "fuzz build" 1 "$LOG/fuzzbuild"
    fi

    echo "== build (ASan+UBSan)"
    if make -j"$JOBS" SANITIZE=1 all >"$LOG/sanbuild" 2>&1; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        run_suite build-san sanitize
        unset ASAN_OPTIONS UBSAN_OPTIONS
    else
        result "sanitizer build" 1 "$LOG/sanbuild"
    fi
fi

rm -rf "$LOG"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] || { echo "failed:$FAILURES"; exit 1; }
