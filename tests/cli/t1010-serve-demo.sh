#!/bin/sh
# t1010-serve-demo: `savor demo --serve` ends with a campaign and a running
# server, and the curl, AWS CLI and boto3 commands it prints work as printed.
# Run again, it points the same campaign at the new version. Without --serve,
# and with standard output not a terminal, it does not serve.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SIZE="--users 300 --items 100 --creators 20 --events 8000"
D=$(new_data_dir)

# start_demo: run `savor demo` on a free port in the background; sets DEMO_PID
# and waits for "serving on", or fails the test.
start_demo() {
    # shellcheck disable=SC2086 # $SIZE is a list of options
    "$SAVOR" demo --serve --data-dir "$D" --listen 127.0.0.1:0 $SIZE >"$TMP/demo.out" 2>"$TMP/demo.err" &
    DEMO_PID=$!
    i=0
    while [ $i -lt 600 ]; do
        grep -q '^savor: serving on http://' "$TMP/demo.out" && return 0
        kill -0 "$DEMO_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    _not_ok "savor demo serves" "$(tail -n 20 "$TMP/demo.err")"
    kill "$DEMO_PID" 2>/dev/null
    finish
    exit 1
}

# printed LINE-PREFIX: the command the demo printed starting with that text,
# with its continuation line joined.
printed() {
    sed -n "/^  $1/{N;s/\\\\\\n *//;s/^  //;p;}" "$TMP/demo.out"
}

start_demo
check_contains "demo deploys a campaign" "and a campaign serving the first:" "$TMP/demo.out"
CAMPAIGN=$(grep -o 'arn:aws:personalize:[^ ]*:campaign/demo-campaign' "$TMP/demo.out" | head -n 1)
check_eq "the campaign is demo-campaign" \
    "arn:aws:personalize:us-east-1:000000000000:campaign/demo-campaign" "$CAMPAIGN"

CURL=$(printed curl)
sh -c "$CURL" >"$TMP/curl.json" 2>"$TMP/curl.err"
check_eq "the printed curl command gets 5 recommendations" 5 \
    "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["itemList"]))' "$TMP/curl.json" 2>&1)"

if command -v aws >/dev/null 2>&1; then
    AWSCMD=$(printed aws)
    (export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1
     sh -c "$AWSCMD") >"$TMP/aws.json" 2>"$TMP/aws.err"
    check_eq "the printed AWS CLI command gets 5 recommendations" 5 \
        "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["itemList"]))' "$TMP/aws.json" 2>/dev/null || head -c 300 "$TMP/aws.err")"
else
    echo "# skipped: the AWS CLI is not installed"
fi

BOTO=$(sed -n 's/^  python3 -c //p' "$TMP/demo.out")
(export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1
 sh -c "$PY -c $BOTO") >"$TMP/boto.out" 2>"$TMP/boto.err"
check_eq "the printed boto3 line prints 5 recommendations" 5 \
    "$("$PY" -c 'import ast,sys; print(len(ast.literal_eval(open(sys.argv[1]).read())))' "$TMP/boto.out" 2>/dev/null || tail -n 3 "$TMP/boto.err")"

kill -INT "$DEMO_PID"
wait "$DEMO_PID"
check_eq "Ctrl-C (SIGINT) stops the demo server cleanly" 0 $?
VERSION1=$("$PY" -c 'import sys,re; print(re.search(r"works for a reader:  (\S+)", open(sys.argv[1]).read()).group(1))' "$TMP/demo.out")

# Again: a new version, and the same campaign now serves it.
# shellcheck disable=SC2086
check "savor demo --no-serve again" "$SAVOR" demo --no-serve --data-dir "$D" $SIZE
VERSION2=$("$PY" -c 'import sys,re; print(re.search(r"works for a reader:  (\S+)", open(sys.argv[1]).read()).group(1))' "$TMP/out")
if [ "$VERSION1" != "$VERSION2" ]; then _ok "the second run trains a new version"; else _not_ok "the second run trains a new version" "$VERSION1"; fi
check_contains "the second run reports the same campaign" "$CAMPAIGN" "$TMP/out"
if grep -q "serving on" "$TMP/out"; then _not_ok "--no-serve does not serve"; else _ok "--no-serve does not serve"; fi
# shellcheck disable=SC2086
check "savor demo, output not a terminal: exits after the campaign" "$SAVOR" demo --data-dir "$D" $SIZE
check_contains "  ... and reports the campaign" "$CAMPAIGN" "$TMP/out"
VERSION3=$("$PY" -c 'import sys,re; print(re.search(r"works for a reader:  (\S+)", open(sys.argv[1]).read()).group(1))' "$TMP/out")

# The campaign, read through the API, points at the second version.
"$SAVOR" serve --data-dir "$D" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVER_PID=$!
i=0
while [ $i -lt 100 ] && ! grep -q "serving on" "$TMP/serve.out"; do sleep 0.1; i=$((i + 1)); done
URL=$(sed -n 's/^savor: serving on //p' "$TMP/serve.out")
check_eq "DescribeCampaign: the campaign serves the newest version" "$VERSION3 ACTIVE" \
    "$(AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 "$PY" -c '
import boto3, sys
c = boto3.client("personalize", endpoint_url=sys.argv[1]).describe_campaign(campaignArn=sys.argv[2])["campaign"]
print(c["solutionVersionArn"], c["status"])' "$URL" "$CAMPAIGN" 2>&1)"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"

finish
