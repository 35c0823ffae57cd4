# lib.sh: helpers for the CLI tests (tests/cli/tNNNN-*.sh), sourced by each.
#
# A test is a shell script that runs the savor binary ($SAVOR) on real files
# and checks what it prints and stores. Each check prints "ok" or "not ok"
# (TAP-like); the script exits non-zero if any check failed. Helpers:
#   check "what" cmd...          the command must succeed
#   check_fails "what" "text" cmd...  it must fail (exit 1) and stderr must contain text
#   check_contains "what" "text" file
#   new_data_dir                 prints a fresh data directory path
set -u

: "${SAVOR:=$(cd "$(dirname "$0")/../.." && pwd)/build/savor}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SAVOR_SHARED:-$ROOT/../shared}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/savor-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILED=0
COUNT=0

_ok() {
    COUNT=$((COUNT + 1))
    echo "ok $COUNT - $1"
}

_not_ok() {
    COUNT=$((COUNT + 1))
    FAILED=$((FAILED + 1))
    echo "not ok $COUNT - $1"
    shift
    for line in "$@"; do echo "#   $line"; done
}

new_data_dir() {
    mktemp -d "$TMP/data.XXXXXX"
}

check() {
    what=$1
    shift
    if "$@" >"$TMP/out" 2>"$TMP/err"; then
        _ok "$what"
    else
        _not_ok "$what" "command failed: $*" "$(head -c 2000 "$TMP/err")"
    fi
}

# check_fails WHAT EXPECTED-STDERR-SUBSTRING CMD...
check_fails() {
    what=$1
    expect=$2
    shift 2
    if "$@" >"$TMP/out" 2>"$TMP/err"; then
        _not_ok "$what" "command succeeded but should have failed: $*"
        return
    fi
    if grep -qF -- "$expect" "$TMP/err"; then
        _ok "$what"
    else
        _not_ok "$what" "expected stderr to contain: $expect" "got: $(head -c 2000 "$TMP/err")"
    fi
}

# check_contains WHAT TEXT FILE
check_contains() {
    if grep -qF -- "$2" "$3"; then
        _ok "$1"
    else
        _not_ok "$1" "expected $3 to contain: $2" "got: $(head -c 2000 "$3")"
    fi
}

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then
        _ok "$1"
    else
        _not_ok "$1" "expected: $2" "got:      $3"
    fi
}

# A stable fingerprint of everything a data directory's store holds (for
# "nothing changed" checks): the describe output without timestamps.
store_fingerprint() {
    "$SAVOR" describe --data-dir "$1" | grep -v -e DateTime
}

# The API tests drive savor with Debian's boto3 (scripts/install-deps.sh installs
# it); without it they skip with a message. Sets PY.
require_boto3() {
    PY=/usr/bin/python3
    if ! "$PY" -c 'import boto3' 2>/dev/null; then
        echo "# skipped: Debian's python3-boto3 is not installed (scripts/install-deps.sh)"
        finish
        exit
    fi
}

# start_server DATA_DIR LOG [OPTIONS...]: `savor serve` on a free port in the
# background (its stdout in $TMP/serve.out, stderr in LOG); sets SERVER_PID and
# PORT, or fails the test.
start_server() {
    dir=$1
    log=$2
    shift 2
    : >"$TMP/serve.out"
    "$SAVOR" serve --data-dir "$dir" --listen 127.0.0.1:0 "$@" >"$TMP/serve.out" 2>"$log" &
    SERVER_PID=$!
    PORT=
    i=0
    while [ $i -lt 200 ]; do
        PORT=$(sed -n 's|^savor: serving on http://[0-9.]*:\([0-9]*\)$|\1|p' "$TMP/serve.out")
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$PORT" ]; then
        _not_ok "server started" "$(cat "$log")"
        finish
        exit 1
    fi
}

# check_no_sanitizer_reports LOG: LOG holds no ASan/LSan/TSan/UBSan report.
check_no_sanitizer_reports() {
    if grep -q "ERROR: \(Address\|Leak\|Thread\)Sanitizer\|runtime error:" "$1"; then
        _not_ok "no sanitizer reports in $(basename "$1")" "$(grep -A20 Sanitizer "$1" | head -40)"
    else
        _ok "no sanitizer reports in $(basename "$1")"
    fi
}

# stop_server_clean LOG: SIGTERM the server start_server started; it must exit 0 and its
# LOG hold no sanitizer report.
stop_server_clean() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID"
    check_eq "SIGTERM: the server exits 0" 0 $?
    check_no_sanitizer_reports "$1"
}

finish() {
    echo "# $COUNT checks, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
