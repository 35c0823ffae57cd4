#!/bin/sh
# t1200-events-durability: every PutEvents call that was answered 200 is in
# the store after `kill -9` of the server and a restart, and shapes that
# user's next recommendations (tests/api/events_durability.py).
. "$(dirname "$0")/lib.sh"

require_boto3

D=$(new_data_dir)
export SAVOR_TMP="$TMP" PYTHONPATH="$ROOT/tests/api"
start_server "$D" "$TMP/server1.log" --allow-path "$TMP" --threads 16
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" \
    "$PY" "$ROOT/tests/api/events_durability.py" load "$SERVER_PID" "$TMP/acked.json" \
    >"$TMP/load.out" 2>&1; then
    _ok "PutEvents under load, then kill -9 ($(sed -n 's/^# \([0-9]*\) .*/\1/p' "$TMP/load.out") calls acknowledged)"
else
    _not_ok "PutEvents under load, then kill -9" "$(tail -n 30 "$TMP/load.out")"
fi
wait "$SERVER_PID" 2>/dev/null
check_eq "the server died of SIGKILL" 137 $?

start_server "$D" "$TMP/server2.log" --allow-path "$TMP" --threads 4
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" \
    "$PY" "$ROOT/tests/api/events_durability.py" verify "$TMP/acked.json" "$D/savor.db" \
    >"$TMP/verify.out" 2>&1; then
    _ok "after the restart every acknowledged event is stored and served"
else
    _not_ok "after the restart every acknowledged event is stored and served" \
        "$(tail -n 30 "$TMP/verify.out")"
fi
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check_eq "SIGTERM: the restarted server exits 0" 0 $?

finish
