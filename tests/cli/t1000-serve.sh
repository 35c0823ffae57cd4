#!/bin/sh
# t1000-serve: `savor serve` on a free loopback port with a fresh data
# directory, exercised by tests/api/test_server.py (raw HTTP and the real
# boto3): health, metrics, routing, bad bodies, limits, slow clients, AWS
# error shapes, SIGTERM. Also the command's own refusals.
. "$(dirname "$0")/lib.sh"

require_boto3

check_fails "serve: a bad --listen is a usage error" "--listen: listen address 'nowhere'" \
    "$SAVOR" serve --data-dir "$TMP/never" --listen nowhere
check_fails "serve: a bad port is a usage error" "port '99999' is not 0-65535" \
    "$SAVOR" serve --data-dir "$TMP/never" --listen 127.0.0.1:99999
check_fails "serve: a missing --allow-path directory is refused" "--allow-path '$TMP/missing'" \
    "$SAVOR" serve --data-dir "$(new_data_dir)" --listen 127.0.0.1:0 --allow-path "$TMP/missing"
check_fails "serve: no keys, non-loopback address: refuses to start" "non-loopback" \
    "$SAVOR" serve --data-dir "$(new_data_dir)" --listen 0.0.0.0:0

D=$(new_data_dir)
IDLE=2
REQ_TIMEOUT=4
start_server "$D" "$TMP/server.log" --idle-timeout $IDLE --request-timeout $REQ_TIMEOUT
check "GET /healthz answers" curl -sf "http://127.0.0.1:$PORT/healthz"

if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" SAVOR_SERVER_LOG="$TMP/server.log" SAVOR="$SAVOR" \
    SAVOR_IDLE_TIMEOUT=$IDLE SAVOR_REQUEST_TIMEOUT=$REQ_TIMEOUT SAVOR_MAX_BODY=1048576 \
    "$PY" "$ROOT/tests/api/test_server.py" >"$TMP/py.out" 2>&1; then
    _ok "tests/api/test_server.py ($(sed -n 's/^Ran \([0-9]*\) tests.*/\1/p' "$TMP/py.out") tests)"
else
    _not_ok "tests/api/test_server.py" "$(tail -n 60 "$TMP/py.out")"
fi

stop_server_clean "$TMP/server.log"
check_contains "the server logged its stop" "info serve stopped" "$TMP/server.log"

finish
