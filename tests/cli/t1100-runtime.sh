#!/bin/sh
# t1100-runtime: the runtime and events APIs end to end with the real boto3
# (tests/api/test_runtime.py) against `savor serve` on a free loopback port:
# a campaign built through the control plane, recommendations and ranking,
# PutEvents visible to the next request (known, new, anonymous users),
# PutItems/PutUsers, UpdateCampaign under load.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c 'import boto3' 2>/dev/null; then
    echo "# skipped: Debian's python3-boto3 is not installed (scripts/install-deps.sh)"
    finish
    exit
fi

# start_server DATA_DIR LOG [OPTIONS...]: sets SERVER_PID and PORT, or fails the test.
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
        PORT=$(sed -n 's|^savor: serving on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$TMP/serve.out")
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

D=$(new_data_dir)
start_server "$D" "$TMP/server.log" --allow-path "$TMP" --threads 8
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" SAVOR_TMP="$TMP" PYTHONPATH="$ROOT/tests/api" \
    "$PY" "$ROOT/tests/api/test_runtime.py" >"$TMP/py.out" 2>&1; then
    _ok "tests/api/test_runtime.py ($(grep -c ' ok$' "$TMP/py.out") tests)"
else
    _not_ok "tests/api/test_runtime.py" "$(tail -n 60 "$TMP/py.out")"
fi

kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check_eq "SIGTERM: the server exits 0" 0 $?
if grep -q "ERROR: \(Address\|Leak\|Thread\)Sanitizer\|runtime error:" "$TMP/server.log"; then
    _not_ok "no sanitizer reports in the server's log" "$(grep -A20 Sanitizer "$TMP/server.log" | head -40)"
else
    _ok "no sanitizer reports in the server's log"
fi

finish
