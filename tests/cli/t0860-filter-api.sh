#!/bin/sh
# t0860-filter-api: filters through `savor serve` with boto3
# (tests/api/test_filters.py): CreateFilter errors, GetRecommendations and
# GetPersonalizedRanking with filters, PutEvents seen by a filter at once,
# item metadata changes (PutItems, `savor import` by another process) seen
# by a cached filter, and a batch inference job with a filter.
. "$(dirname "$0")/lib.sh"

require_boto3
export AWS_ACCESS_KEY_ID=AKIDSAVORTEST AWS_SECRET_ACCESS_KEY=savor-test-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER= AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null

IN="$TMP/in"
mkdir -p "$IN"
# 40 users with 8 of 60 items each (click, view or buy); items in genres with prices.
awk 'BEGIN { print "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"; split("click view buy", t, " ");
             for (u = 0; u < 40; u++) for (k = 0; k < 8; k++)
                 printf "u%d,i%d,%s,%d\n", u, (u * 7 + k * 5) % 60, t[(u + k) % 3 + 1], 1700000000 + u * 50 + k }' \
    >"$IN/interactions.csv"
awk 'BEGIN { print "ITEM_ID,GENRE,PRICE"; split("jazz rock pop jazz|rock", g, " ");
             for (i = 0; i < 60; i++) printf "i%d,%s,%d.5\n", i, g[i % 4 + 1], (i * 13) % 50 }' \
    >"$IN/items.csv"

D=$(new_data_dir)
"$SAVOR" serve --data-dir "$D" --listen 127.0.0.1:0 --allow-path "$IN" >"$TMP/serve.out" 2>"$TMP/server.log" &
SERVER_PID=$!
PORT=
i=0
while [ $i -lt 100 ]; do
    PORT=$(sed -n 's|^savor: serving on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$TMP/serve.out")
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$PORT" ]; then
    _not_ok "server started" "$(cat "$TMP/server.log")"
    finish
    exit 1
fi
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" SAVOR_INPUT_DIR="$IN" SAVOR_DATA_DIR="$D" SAVOR="$SAVOR" \
    "$PY" "$ROOT/tests/api/test_filters.py" >"$TMP/py.out" 2>&1; then
    _ok "tests/api/test_filters.py ($(grep -c ' ok$' "$TMP/py.out") tests)"
else
    _not_ok "tests/api/test_filters.py" "$(tail -n 60 "$TMP/py.out")"
fi
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check_eq "SIGTERM: the server exits 0" 0 $?
if grep -q "ERROR: \(Address\|Leak\)Sanitizer\|runtime error:" "$TMP/server.log"; then
    _not_ok "no sanitizer reports" "$(grep -A20 Sanitizer "$TMP/server.log" | head -40)"
else
    _ok "no sanitizer reports"
fi
finish
