#!/bin/sh
# t1110-control-api: the control plane over HTTP. tests/api/test_control.py
# drives `savor serve` with the real boto3 (workflow, errors, pagination,
# path confinement); then a smaller check with the AWS CLI; then a restart
# of the server with a job left behind.
. "$(dirname "$0")/lib.sh"

require_boto3

export AWS_ACCESS_KEY_ID=AKIDSAVORTEST AWS_SECRET_ACCESS_KEY=savor-test-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER= AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null

IN="$TMP/in"
OUT="$TMP/outside"
mkdir -p "$IN" "$OUT"
# 40 users, each with 8 of 20 items: enough to train every recipe on.
awk 'BEGIN { print "USER_ID,ITEM_ID,TIMESTAMP";
             for (u = 0; u < 40; u++) for (k = 0; k < 8; k++)
                 printf "u%d,i%d,%d\n", u, (u * 3 + k) % 20, 1700000000 + u * 50 + k }' \
    >"$IN/interactions.csv"

D=$(new_data_dir)
# The working directory is allowed by default: run from one the tests may not read.
cd "$OUT" || exit 1
start_server "$D" "$TMP/server.log" --allow-path "$IN"
if SAVOR_ENDPOINT="http://127.0.0.1:$PORT" SAVOR_INPUT_DIR="$IN" SAVOR_OUTSIDE="$TMP/elsewhere" \
    sh -c 'mkdir -p "$SAVOR_OUTSIDE" && cd / && exec "$0" "$1"' "$PY" "$ROOT/tests/api/test_control.py" \
    >"$TMP/py.out" 2>&1; then
    _ok "tests/api/test_control.py ($(grep -c ' ok$' "$TMP/py.out") tests)"
else
    _not_ok "tests/api/test_control.py" "$(tail -n 60 "$TMP/py.out")" "server log:" \
        "$(grep -v ' info http ' "$TMP/server.log" | tail -n 40)"
fi

# The AWS CLI on the same server.
AWS="aws --endpoint-url http://127.0.0.1:$PORT personalize"
check "aws: create-dataset-group" $AWS create-dataset-group --name cli-group
$AWS list-dataset-groups --output text >"$TMP/groups.txt" 2>&1
check_contains "aws: list-dataset-groups shows it" "dataset-group/cli-group" "$TMP/groups.txt"
$AWS describe-dataset-group --output text \
    --dataset-group-arn arn:aws:personalize:us-east-1:000000000000:dataset-group/cli-group \
    >"$TMP/group.txt" 2>&1
check_contains "aws: describe-dataset-group is ACTIVE" "ACTIVE" "$TMP/group.txt"
check_fails "aws: a missing group is ResourceNotFoundException" "ResourceNotFoundException" \
    $AWS describe-dataset-group --dataset-group-arn arn:aws:personalize:us-east-1:000000000000:dataset-group/none
check_fails "aws: a bad name is InvalidInputException" "InvalidInputException" \
    $AWS create-dataset-group --name "no spaces"
$AWS list-recipes --output text >"$TMP/recipes.txt" 2>&1
check_contains "aws: list-recipes" "recipe/aws-user-personalization" "$TMP/recipes.txt"

kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check_eq "SIGTERM: the server exits 0" 0 $?

# A job left CREATE PENDING (server stopped before it ran) runs on the next start;
# one a killed server left CREATE IN_PROGRESS ends CREATE FAILED with a reason.
D2=$(new_data_dir)
start_server "$D2" "$TMP/server2.log" --allow-path "$IN"
E="http://127.0.0.1:$PORT"
G=$(aws --endpoint-url "$E" personalize create-dataset-group --name r --query datasetGroupArn --output text)
S=$(aws --endpoint-url "$E" personalize create-schema --name r-s --query schemaArn --output text \
    --schema '{"type":"record","name":"Interactions","namespace":"com.amazonaws.personalize.schema","fields":[{"name":"USER_ID","type":"string"},{"name":"ITEM_ID","type":"string"},{"name":"TIMESTAMP","type":"long"}],"version":"1.0"}')
DS=$(aws --endpoint-url "$E" personalize create-dataset --name r-i --schema-arn "$S" \
    --dataset-group-arn "$G" --dataset-type Interactions --query datasetArn --output text)
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
"$PY" - "$D2/savor.db" "$IN/interactions.csv" "$SERVER_PID" <<'PYEOF' 2>"$TMP/seed.err" || _not_ok "seed jobs" "$(cat "$TMP/seed.err")"
import json, sqlite3, sys
db, csv, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
ds = con.execute("SELECT id FROM resources WHERE kind = 'dataset'").fetchone()[0]
arn = "arn:aws:personalize:us-east-1:000000000000:dataset-import-job/"
for name, status, extra in (("queued", "CREATE PENDING", {}),
                            ("stuck", "CREATE IN_PROGRESS", {"workerPid": pid})):
    attrs = dict(jobName=name, importMode="FULL", dataSource={"dataLocation": csv}, **extra)
    con.execute("INSERT INTO resources (arn, kind, name, parent_id, status, created, updated, attrs)"
                " VALUES (?, 'dataset-import-job', ?, ?, ?, 1, 1, ?)",
                (arn + name, name, ds, status, json.dumps(attrs)))
con.commit()
PYEOF
start_server "$D2" "$TMP/server3.log" --allow-path "$IN"
E="http://127.0.0.1:$PORT"
i=0
while [ $i -lt 100 ]; do
    st=$(aws --endpoint-url "$E" personalize describe-dataset-import-job --dataset-import-job-arn \
        arn:aws:personalize:us-east-1:000000000000:dataset-import-job/queued \
        --query datasetImportJob.status --output text)
    [ "$st" = ACTIVE ] && break
    sleep 0.2
    i=$((i + 1))
done
check_eq "restart: the queued import ran" ACTIVE "$st"
check_eq "restart: the interrupted import is CREATE FAILED" "CREATE FAILED" \
    "$(aws --endpoint-url "$E" personalize describe-dataset-import-job --dataset-import-job-arn \
        arn:aws:personalize:us-east-1:000000000000:dataset-import-job/stuck \
        --query datasetImportJob.status --output text)"
aws --endpoint-url "$E" personalize describe-dataset-import-job --output text \
    --dataset-import-job-arn arn:aws:personalize:us-east-1:000000000000:dataset-import-job/stuck \
    >"$TMP/stuck.txt" 2>&1
check_contains "restart: ... with the reason" "interrupted" "$TMP/stuck.txt"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check_eq "SIGTERM after the restart: exits 0" 0 $?

for log in "$TMP/server.log" "$TMP/server2.log" "$TMP/server3.log"; do
    check_no_sanitizer_reports "$log"
done

finish
