#!/bin/sh
# t1310-awscli: Debian's AWS CLI (/usr/bin/aws, v2) against `savor serve` with an access
# key: the control plane (create, describe, list, errors and exit codes), a whole
# workflow (schema, dataset, import job, solution, version, campaign) and
# `aws personalize-runtime get-recommendations` on its campaign; wrong keys are refused.
. "$(dirname "$0")/lib.sh"

AWS=${AWS:-/usr/bin/aws}
if ! [ -x "$AWS" ]; then
    echo "# skipped: Debian's awscli is not installed (scripts/install-deps.sh)"
    finish
    exit
fi

# Only what this test sets: no user configuration, no pager, dummy credentials and region.
export HOME="$TMP" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=AKIDSAVORCLI AWS_SECRET_ACCESS_KEY=cli/secret+key AWS_DEFAULT_REGION=us-west-2

D=$(new_data_dir)
SAVOR_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID SAVOR_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    start_server "$D" "$TMP/server.log"
EP="http://127.0.0.1:$PORT"

# aws_ok WHAT CMD...: the aws command exits 0; its stdout is in $OUT.
aws_ok() {
    what=$1
    shift
    OUT=$("$AWS" --endpoint-url "$EP" "$@" 2>"$TMP/aws.err")
    rc=$?
    if [ $rc -eq 0 ]; then
        _ok "$what"
    else
        _not_ok "$what" "aws $* exited $rc" "$(head -c 2000 "$TMP/aws.err")"
    fi
}

# aws_fails WHAT EXIT-CODE STDERR-TEXT CMD...: the aws command exits with that code and says that.
aws_fails() {
    what=$1
    want=$2
    text=$3
    shift 3
    "$AWS" --endpoint-url "$EP" "$@" >"$TMP/aws.out" 2>"$TMP/aws.err"
    rc=$?
    if [ $rc -ne "$want" ]; then
        _not_ok "$what" "aws $* exited $rc, expected $want" "$(head -c 2000 "$TMP/aws.err")"
    elif ! grep -qF -- "$text" "$TMP/aws.err"; then
        _not_ok "$what" "expected stderr to contain: $text" "got: $(head -c 2000 "$TMP/aws.err")"
    else
        _ok "$what"
    fi
}

# wait_for WHAT QUERY WANT CMD...: poll a describe call until QUERY gives WANT (or FAILED).
wait_for() {
    what=$1
    query=$2
    want=$3
    shift 3
    got=
    deadline=$(($(date +%s) + 180))
    while [ "$(date +%s)" -lt $deadline ]; do
        got=$("$AWS" --endpoint-url "$EP" "$@" --query "$query" --output text 2>"$TMP/aws.err")
        case "$got" in "$want" | *FAILED*) break ;; esac
        sleep 0.5
    done
    check_eq "$what" "$want" "$got"
}

# ---- the control plane, and exit codes (254: the service said no; 252: bad parameters) ----
aws_ok "list-dataset-groups on an empty server" personalize list-dataset-groups
check_eq "no dataset groups yet" "[]" "$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["datasetGroups"])')"

aws_ok "create-dataset-group" personalize create-dataset-group --name cli-demo \
    --query datasetGroupArn --output text
DG=$OUT
case "$DG" in
arn:aws:personalize:*:dataset-group/cli-demo) _ok "the dataset group's ARN" ;;
*) _not_ok "the dataset group's ARN" "got: $DG" ;;
esac
aws_ok "describe-dataset-group" personalize describe-dataset-group --dataset-group-arn "$DG" \
    --query datasetGroup.name --output text
check_eq "described by name" cli-demo "$OUT"
aws_ok "list-dataset-groups lists it" personalize list-dataset-groups \
    --query 'datasetGroups[].name' --output text
check_eq "listed" cli-demo "$OUT"

aws_fails "create it again: ResourceAlreadyExistsException, exit 254" 254 \
    "ResourceAlreadyExistsException" personalize create-dataset-group --name cli-demo
aws_fails "describe a missing one: ResourceNotFoundException, exit 254" 254 \
    "ResourceNotFoundException" personalize describe-dataset-group \
    --dataset-group-arn "$(printf '%s' "$DG" | sed 's/cli-demo$/nowhere/')"
aws_fails "a name outside the pattern: InvalidInputException, exit 254" 254 \
    "InvalidInputException" personalize create-dataset-group --name 'bad name!'
aws_fails "maxResults 0 is refused by the CLI itself, exit 252" 252 "maxResults" \
    personalize list-dataset-groups --max-results 0

# ---- keys ----
AWS_SECRET_ACCESS_KEY=not-the-secret aws_fails "wrong secret: InvalidSignatureException, exit 254" \
    254 "InvalidSignatureException" personalize list-dataset-groups
AWS_ACCESS_KEY_ID=AKIDSOMEONEELSE aws_fails "unknown key: UnrecognizedClientException, exit 254" \
    254 "UnrecognizedClientException" personalize list-dataset-groups
AWS_SECRET_ACCESS_KEY=not-the-secret aws_fails "wrong secret on the runtime: InvalidSignatureException" \
    254 "InvalidSignatureException" personalize-runtime get-recommendations \
    --campaign-arn "arn:aws:personalize:us-west-2:000000000000:campaign/none" --user-id u1
aws_fails "a signed runtime call for a missing campaign: ResourceNotFoundException" 254 \
    "ResourceNotFoundException" personalize-runtime get-recommendations \
    --campaign-arn "arn:aws:personalize:us-west-2:000000000000:campaign/none" --user-id u1

# ---- a whole workflow through the CLI, then recommendations ----
mkdir -p "$D/csv"
check "demo CSV files" "$SAVOR" demo --data-dir "$TMP/gen" --csv-dir "$D/csv" --generate-only \
    --users 300 --items 120 --creators 20 --events 6000
cat >"$TMP/schema.json" <<'EOF'
{"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
 "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": "float"},
            {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}
EOF
aws_ok "create-schema" personalize create-schema --name cli-interactions \
    --schema "file://$TMP/schema.json" --query schemaArn --output text
SCHEMA=$OUT
aws_ok "create-dataset" personalize create-dataset --name cli-interactions \
    --schema-arn "$SCHEMA" --dataset-group-arn "$DG" --dataset-type Interactions \
    --query datasetArn --output text
DS=$OUT
aws_ok "create-dataset-import-job" personalize create-dataset-import-job --job-name cli-import \
    --dataset-arn "$DS" --data-source "dataLocation=file://$D/csv/interactions.csv" \
    --role-arn arn:aws:iam::000000000000:role/savor --query datasetImportJobArn --output text
JOB=$OUT
wait_for "the import job becomes ACTIVE" datasetImportJob.status ACTIVE \
    personalize describe-dataset-import-job --dataset-import-job-arn "$JOB"
aws_ok "create-solution" personalize create-solution --name cli-solution \
    --dataset-group-arn "$DG" --recipe-arn arn:aws:personalize:::recipe/aws-user-personalization \
    --query solutionArn --output text
SOL=$OUT
aws_ok "create-solution-version" personalize create-solution-version --solution-arn "$SOL" \
    --query solutionVersionArn --output text
SV=$OUT
wait_for "the solution version becomes ACTIVE" solutionVersion.status ACTIVE \
    personalize describe-solution-version --solution-version-arn "$SV"
aws_ok "create-campaign" personalize create-campaign --name cli-campaign \
    --solution-version-arn "$SV" --min-provisioned-tps 1 --query campaignArn --output text
CAMP=$OUT
wait_for "the campaign becomes ACTIVE" campaign.status ACTIVE \
    personalize describe-campaign --campaign-arn "$CAMP"
aws_ok "get-recommendations" personalize-runtime get-recommendations --campaign-arn "$CAMP" \
    --user-id user-00001 --num-results 7 --query 'itemList[].itemId' --output text
check_eq "seven recommended works" 7 "$(printf '%s\n' "$OUT" | tr '\t' '\n' | grep -c '^work-')"
aws_fails "get-recommendations with 501 results: InvalidInputException" 254 "InvalidInputException" \
    personalize-runtime get-recommendations --campaign-arn "$CAMP" --user-id user-00001 \
    --num-results 501
AWS_SECRET_ACCESS_KEY=not-the-secret aws_fails "the same with a wrong secret: refused" 254 \
    "InvalidSignatureException" personalize-runtime get-recommendations --campaign-arn "$CAMP" \
    --user-id user-00001

stop_server_clean "$TMP/server.log"

finish
