#!/bin/sh
# t1300-auth: `savor serve` with access keys. How keys are configured (--credentials
# FILE, DATA_DIR/credentials, SAVOR_ACCESS_KEY_ID/SAVOR_SECRET_ACCESS_KEY), what stops
# the server from starting, and tests/api/test_auth.py (boto3 and raw HTTP with right,
# wrong, stale and missing signatures) against a server with three keys.
. "$(dirname "$0")/lib.sh"

require_boto3
unset SAVOR_ACCESS_KEY_ID SAVOR_SECRET_ACCESS_KEY

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID"
}

# An unsigned request's HTTP status (curl, no signature at all).
unsigned_status() {
    curl -s -o /dev/null -w '%{http_code}' -X POST \
        -H 'X-Amz-Target: AmazonPersonalize.ListDatasetGroups' \
        -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "http://127.0.0.1:$1/"
}

CREDS="$TMP/creds.ini"
cat >"$CREDS" <<'EOF'
# two keys for the tests
[app]
aws_access_key_id = AKIDSAVORAPP
aws_secret_access_key = app/secret+with=signs

[ops]
aws_access_key_id=AKIDSAVOROPS
aws_secret_access_key=ops-secret
EOF

# ---- what stops the server ----
D=$(new_data_dir)
printf '[app]\naws_access_key_id = AKIDX\naws_access_key_id = AKIDY\n' >"$TMP/dup.ini"
check_fails "a broken credentials file is named with its line" \
    "dup.ini:3: aws_access_key_id is set twice in profile [app] (first at line 2)" \
    "$SAVOR" serve --data-dir "$D" --listen 127.0.0.1:0 --credentials "$TMP/dup.ini"
check_fails "a missing credentials file" "missing.ini: cannot open credentials file" \
    "$SAVOR" serve --data-dir "$D" --listen 127.0.0.1:0 --credentials "$TMP/missing.ini"
check_fails "only one of the two environment variables" \
    "SAVOR_ACCESS_KEY_ID is set but SAVOR_SECRET_ACCESS_KEY is not" \
    env SAVOR_ACCESS_KEY_ID=AKIDENV "$SAVOR" serve --data-dir "$D" --listen 127.0.0.1:0
check_fails "no keys on a non-loopback address" \
    "a non-loopback address, without access keys" \
    "$SAVOR" serve --data-dir "$D" --listen 0.0.0.0:0
check_fails "no keys on IPv6 any" "a non-loopback address, without access keys" \
    "$SAVOR" serve --data-dir "$D" --listen '[::]:0'

# ---- with keys, any address may be used ----
"$SAVOR" serve --data-dir "$D" --listen 0.0.0.0:0 --credentials "$CREDS" \
    >"$TMP/serve.out" 2>"$TMP/any.log" &
SERVER_PID=$!
PORT=
i=0
while [ $i -lt 100 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's|^savor: serving on http://0\.0\.0\.0:\([0-9]*\)$|\1|p' "$TMP/serve.out")
    sleep 0.1
    i=$((i + 1))
done
check_eq "keys: starts on 0.0.0.0, unsigned requests are refused" 403 "$(unsigned_status "$PORT")"
stop_server

# ---- DATA_DIR/credentials is picked up; without it nothing is checked ----
D2=$(new_data_dir)
start_server "$D2" "$TMP/nokeys.log"
check_eq "no keys on loopback: unsigned requests are served" 200 "$(unsigned_status "$PORT")"
check_contains "no keys: the log says so" "access_keys=0 (requests are not authenticated)" \
    "$TMP/nokeys.log"
stop_server
cp "$CREDS" "$D2/credentials"
start_server "$D2" "$TMP/ddkeys.log"
check_eq "DATA_DIR/credentials: unsigned requests are refused" 403 "$(unsigned_status "$PORT")"
check_contains "DATA_DIR/credentials: two keys" "access_keys=2" "$TMP/ddkeys.log"
stop_server

# ---- the boto3 suite: two keys from --credentials, one from the environment ----
D3=$(new_data_dir)
SAVOR_ACCESS_KEY_ID=AKIDSAVORENV SAVOR_SECRET_ACCESS_KEY=env-secret \
    start_server "$D3" "$TMP/server.log" --credentials "$CREDS"
check_contains "three keys configured" "access_keys=3" "$TMP/server.log"
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" \
    SAVOR_KEYS="AKIDSAVORAPP:app/secret+with=signs,AKIDSAVOROPS:ops-secret,AKIDSAVORENV:env-secret" \
    "$PY" "$ROOT/tests/api/test_auth.py" >"$TMP/py.out" 2>&1; then
    _ok "tests/api/test_auth.py ($(grep -c ' ok$' "$TMP/py.out") tests)"
else
    _not_ok "tests/api/test_auth.py" "$(tail -n 60 "$TMP/py.out")"
fi
check_contains "refusals are logged with their error type" "error=InvalidSignatureException" \
    "$TMP/server.log"
stop_server_clean "$TMP/server.log"

finish
