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
start_server "$D" "$TMP/server.log" --allow-path "$IN"
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" SAVOR_INPUT_DIR="$IN" SAVOR_DATA_DIR="$D" SAVOR="$SAVOR" \
    "$PY" "$ROOT/tests/api/test_filters.py" >"$TMP/py.out" 2>&1; then
    _ok "tests/api/test_filters.py ($(grep -c ' ok$' "$TMP/py.out") tests)"
else
    _not_ok "tests/api/test_filters.py" "$(tail -n 60 "$TMP/py.out")"
fi
stop_server_clean "$TMP/server.log"
finish
