#!/bin/sh
# t1100-runtime: the runtime and events APIs end to end with the real boto3
# (tests/api/test_runtime.py) against `savor serve` on a free loopback port:
# a campaign built through the control plane, recommendations and ranking,
# PutEvents visible to the next request (known, new, anonymous users),
# PutItems/PutUsers, UpdateCampaign under load.
. "$(dirname "$0")/lib.sh"

require_boto3

D=$(new_data_dir)
start_server "$D" "$TMP/server.log" --allow-path "$TMP" --threads 8
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" SAVOR_TMP="$TMP" PYTHONPATH="$ROOT/tests/api" \
    "$PY" "$ROOT/tests/api/test_runtime.py" >"$TMP/py.out" 2>&1; then
    _ok "tests/api/test_runtime.py ($(grep -c ' ok$' "$TMP/py.out") tests)"
else
    _not_ok "tests/api/test_runtime.py" "$(tail -n 60 "$TMP/py.out")"
fi

stop_server_clean "$TMP/server.log"

finish
