#!/bin/sh
# t0200-import-bad-input: every kind of bad input makes `savor import` fail
# with exit code 1 and a message naming the file, the line and the field,
# and leaves the store exactly as it was (the import is one transaction). A
# failure in an existing dataset is recorded as a CREATE FAILED import job.
. "$(dirname "$0")/lib.sh"

DATA=$ROOT/tests/data
PY=/usr/bin/python3
H='USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE'

# state.py: `savor describe`'s JSON in, two things out. Line 1: the number of
# import jobs, then the newest's "status|rowsImported|failureReason". The
# rest: the JSON reduced to what a failed import must not change: no
# *DateTime keys and no CREATE FAILED jobs (those are checked on line 1).
cat >"$TMP/state.py" <<'EOF'
import json, sys
d = json.load(sys.stdin)
jobs = [j for g in d["datasetGroups"] for x in g["datasets"] for j in x["importJobs"]]
jobs.sort(key=lambda j: j["creationDateTime"])
last = jobs[-1] if jobs else {}
print("%d %s|%s|%s" % (len(jobs), last.get("status"), last.get("rowsImported"), last.get("failureReason", "")))
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if not k.endswith("DateTime")}
    if isinstance(v, list):
        return [strip(x) for x in v if not (isinstance(x, dict) and x.get("status") == "CREATE FAILED")]
    return v
print(json.dumps(strip(d), sort_keys=True, indent=1))
EOF
# state DIR: write DIR's state to $TMP/state.jobs and $TMP/state.fp.
state() {
    "$SAVOR" describe --data-dir "$1" | "$PY" "$TMP/state.py" >"$TMP/state"
    sed -n 1p "$TMP/state" >"$TMP/state.jobs"
    sed 1d "$TMP/state" >"$TMP/state.fp"
}
# baseline: the current state of $D becomes what failed imports must keep.
baseline() {
    state "$D"
    cp "$TMP/state.fp" "$TMP/base.fp"
    rm -rf "$PRISTINE"
    cp -R "$D" "$PRISTINE"
}
PRISTINE=$TMP/pristine

# repeat CHAR N: CHAR written N times.
repeat() {
    awk -v c="$1" -v n="$2" 'BEGIN { s = c; while (length(s) < n) s = s s; printf "%s", substr(s, 1, n) }'
}

# bad WHAT JOB EXPECT ARGS...: `savor import --data-dir $D ARGS` must exit 1
# with every line of EXPECT in stderr, and leave the store's data as it was
# at the last `baseline`. JOB: "job" if a CREATE FAILED job with the error as
# its failureReason must be recorded, "nojob" if no job may be recorded, "-"
# to not check jobs. Between `baseline` and the bad cases nothing else may
# change $D (the job count is carried from one case to the next). A case that
# wrongly changes the store is reported and the baseline store put back.
bad() {
    what=$1
    job=$2
    expect=$3
    shift 3
    jobs_before=$(sed 's/ .*//' "$TMP/state.jobs") # as left by baseline or the last case
    "$SAVOR" import --data-dir "$D" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    check_eq "$what: exit code 1" 1 "$rc"
    missing=""
    while IFS= read -r s; do
        [ -n "$s" ] || continue
        grep -qF -- "$s" "$TMP/err" || missing="$missing [$s]"
    done <<EOF
$expect
EOF
    if [ -z "$missing" ]; then
        _ok "$what: message"
    else
        _not_ok "$what: message" "stderr lacks:$missing" "got: $(head -c 600 "$TMP/err")"
    fi
    state "$D"
    jobs_after=$(cat "$TMP/state.jobs")
    if cmp -s "$TMP/base.fp" "$TMP/state.fp"; then
        _ok "$what: store unchanged"
    else
        _not_ok "$what: store unchanged" "$(diff "$TMP/base.fp" "$TMP/state.fp" | head -n 30)"
        rm -rf "$D"
        cp -R "$PRISTINE" "$D"
        state "$D"
    fi
    case $job in
    job)
        msg=$(sed -n 's/^savor: error: //p' "$TMP/err" | sed -n 1p)
        check_eq "$what: a failed job is recorded" "$((jobs_before + 1)) CREATE FAILED|0|$msg" \
            "$jobs_after"
        ;;
    nojob)
        check_eq "$what: no job recorded" "$jobs_before" "${jobs_after%% *}"
        ;;
    esac
}

# usage WHAT EXPECT ARGS...: a usage error: exit 2, nothing changed at all.
usage() {
    what=$1
    expect=$2
    shift 2
    before=$(store_fingerprint "$D")
    "$SAVOR" import --data-dir "$D" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    check_eq "$what: exit code 2 (usage)" 2 "$rc"
    check_contains "$what: message" "$expect" "$TMP/err"
    check_eq "$what: store unchanged" "$before" "$(store_fingerprint "$D")"
}

# ---- a good initial state: interactions (explicit schema) and users ------------------
D=$(new_data_dir)
check "initial interactions import" "$SAVOR" import --data-dir "$D" -g shop -t interactions \
    --schema "$DATA/interactions-schema.json" "$DATA/interactions.csv"
check "initial users import" "$SAVOR" import --data-dir "$D" -g shop -t users "$DATA/users.csv"
baseline
check_contains "baseline has 12 interactions" '"interactions": 12' "$TMP/base.fp"
F=$TMP/bad.csv

# ---- header problems -------------------------------------------------------------------
printf 'USER_ID,ITEM_ID,EVENT_TYPE\nu1,i1,click\n' >"$F"
bad "missing TIMESTAMP column" job "$F:1:
required column TIMESTAMP is missing from the header" -g shop -t interactions "$F"

printf '%s,COLOR\nu1,i1,1700000000,click,1,red\n' "$H" >"$F"
bad "unknown column with --schema" job "$F:1:
column 6 'COLOR' is not a field of the schema" \
    -g shop -t interactions --schema "$DATA/interactions-schema.json" "$F"
bad "unknown column with the stored schema" job "$F:1:
column 6 'COLOR' is not a field of the schema" -g shop -t interactions "$F"

printf 'USER_ID,ITEM_ID,TIMESTAMP,USER_ID\nu1,i1,1700000000,u1\n' >"$F"
bad "repeated column" job "$F:1:
column 4 'USER_ID' repeats column 1" -g shop -t interactions "$F"

# ---- wrong types and bad numbers -----------------------------------------------------------
printf '%s\nu1,i1,1700000000,click,1\nu2,i2,17000OOOOO,view,\n' "$H" >"$F"
bad "letters in TIMESTAMP" job "$F:3:
field 3 (TIMESTAMP)
'17000OOOOO' is not a whole number" -g shop -t interactions "$F"

printf '%s\nu1,i1,,click,1\n' "$H" >"$F"
bad "empty TIMESTAMP" job "$F:2:
field 3 (TIMESTAMP)
not nullable" -g shop -t interactions "$F"

printf '%s\nu1,i1,-5,click,1\n' "$H" >"$F"
bad "negative TIMESTAMP" job "$F:2:
field 3 (TIMESTAMP)
negative timestamp" -g shop -t interactions "$F"

printf '%s\nu1,i1,99999999999999999999,click,1\n' "$H" >"$F"
bad "TIMESTAMP beyond int64" job "$F:2:
field 3 (TIMESTAMP)
is not a whole number" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000.5,click,1\n' "$H" >"$F"
bad "fractional TIMESTAMP" job "$F:2:
field 3 (TIMESTAMP)" -g shop -t interactions "$F"

for v in abc 1e999 12.5.3 NaN nan inf -Infinity 0x1A 1e39 '1,5'; do
    case $v in
    *,*) printf '%s\nu1,i1,1700000000,click,"%s"\n' "$H" "$v" >"$F" ;;
    *) printf '%s\nu1,i1,1700000000,click,%s\n' "$H" "$v" >"$F" ;;
    esac
    bad "EVENT_VALUE '$v'" job "$F:2:
field 5 (EVENT_VALUE)
'$v'" -g shop -t interactions "$F"
done

printf 'USER_ID,AGE,MEMBER,COUNTRY\nu1,31,true,JP\nu9,40,yes,DE\n' >"$F"
bad "boolean 'yes'" job "$F:3:
field 3 (MEMBER)
'yes' is not a boolean" -g shop -t users "$F"

printf 'USER_ID,AGE,MEMBER,COUNTRY\nu9,forty,true,DE\n' >"$F"
bad "letters in a long metadata field" job "$F:2:
field 2 (AGE)
'forty' is not a whole number" -g shop -t users "$F"

# ---- CSV syntax ------------------------------------------------------------------------------
printf '%s\nu1,i1,1700000000,click,1\nu2,i\377,1700000000,click,1\n' "$H" >"$F"
bad "invalid UTF-8" job "$F:3:
field 2
invalid UTF-8" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000,click,1\nu2,"i2,1700000000,click,1\nu3,i3,1700000000,click,1\n' "$H" >"$F"
bad "unterminated quote" job "$F:3:
field 2
unterminated quoted field" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000,click,1\nu2,i"2,1700000000,click,1\n' "$H" >"$F"
bad "quote inside an unquoted field" job "$F:3:
field 2
inside an unquoted field" -g shop -t interactions "$F"

printf '%s\nu1,"i1"x,1700000000,click,1\n' "$H" >"$F"
bad "text after a closing quote" job "$F:2:
field 2
after closing quote" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000,click,1\nu2,%s,1700000000,click,1\n' "$H" "$(repeat x 131073)" >"$F"
bad "field over 128 KiB" job "$F:3:
field 2
longer than 131072 bytes" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000,click,1\nu2,%s,1700000000,click,1\n' "$H" "$(repeat x 257)" >"$F"
bad "ITEM_ID over 256 bytes" job "$F:3:
field 2 (ITEM_ID)
ID of 257 bytes; the limit is 256" -g shop -t interactions "$F"

printf '%s\n%s,i1,1700000000,click,1\n' "$H" "$(repeat u 257)" >"$F"
bad "USER_ID over 256 bytes" job "$F:2:
field 1 (USER_ID)
ID of 257 bytes" -g shop -t interactions "$F"

printf '%s\nu1,,1700000000,click,1\n' "$H" >"$F"
bad "empty ITEM_ID" job "$F:2:
field 2 (ITEM_ID)
empty ID" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000,click,1\nu2,i2,1700000000,click,1,9\n' "$H" >"$F"
bad "too many fields" job "$F:3:
expected 5 fields (as in the header), found 6" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000,click,1\nu2,i2,1700000000,click\n' "$H" >"$F"
bad "too few fields" job "$F:3:
expected 5 fields (as in the header), found 4" -g shop -t interactions "$F"

: >"$F"
bad "empty file" job "$F:
empty input" -g shop -t interactions "$F"

printf '\n\n\n' >"$F"
bad "only blank lines" job "$F:
empty input" -g shop -t interactions "$F"

# Binary garbage: an ELF-like header (NUL bytes) and a PNG-like one (no NUL).
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\003\000>\000\001\000\000\000' >"$F"
bad "binary garbage with NUL bytes" job "$F:1:
field 1
NUL byte" -g shop -t interactions "$F"
printf '\211PNG\r\n\032\n\377\376\375garbage,more\200\201\n' >"$F"
bad "binary garbage without NUL bytes" job "$F:1:
field 1
invalid UTF-8" -g shop -t interactions "$F"

printf '%s\nu1,i1,1700000000,click,1\nu2,i\0002,1700000000,click,1\n' "$H" >"$F"
bad "NUL byte in a field" job "$F:3:
field 2
NUL byte" -g shop -t interactions "$F"

# ---- schemas ---------------------------------------------------------------------------------------
S=$TMP/schema.json
printf '{"type":"record","name":"Interactions","fields":[\n' >"$S"
bad "invalid schema JSON" job "$S:
schema: invalid JSON at line" -g shop -t interactions --schema "$S" "$DATA/interactions.csv"

cat >"$S" <<'EOF'
{"type":"record","name":"Interactions","fields":[
 {"name":"ITEM_ID","type":"string"},{"name":"TIMESTAMP","type":"long"}],"version":"1.0"}
EOF
bad "schema without USER_ID" job "$S:
required field USER_ID is missing" -g shop -t interactions --schema "$S" "$DATA/interactions.csv"

cat >"$S" <<'EOF'
{"type":"record","name":"Interactions","fields":[
 {"name":"USER_ID","type":"string"},{"name":"ITEM_ID","type":"string"},
 {"name":"TIMESTAMP","type":"string"}],"version":"1.0"}
EOF
bad "schema with TIMESTAMP as string" job "$S:
(\"TIMESTAMP\")
type \"string\" is not allowed for TIMESTAMP" -g shop -t interactions --schema "$S" "$DATA/interactions.csv"

cat >"$S" <<'EOF'
{"type":"record","name":"Interactions","namespace":"com.amazonaws.personalize.schema","fields":[
 {"name":"USER_ID","type":"string"},{"name":"ITEM_ID","type":"string"},
 {"name":"TIMESTAMP","type":"long"},{"name":"EVENT_TYPE","type":"string"}],"version":"1.0"}
EOF
bad "--schema differing from the dataset's" job "$S:
already uses a different schema" -g shop -t interactions --schema "$S" "$DATA/interactions.csv"

bad "nonexistent --schema file" - "$TMP/nope.json: cannot open" \
    -g shop -t interactions --schema "$TMP/nope.json" "$DATA/interactions.csv"

# ---- input files -----------------------------------------------------------------------------------
awk -v h="$H" 'BEGIN { print h; for (i = 1; i <= 3000; i++) print "u" i % 97 ",i" i % 31 "," 1700000000 + i ",click," i % 5 }' >"$TMP/good.csv"
gzip -c "$TMP/good.csv" >"$TMP/good.csv.gz"
head -c 4000 "$TMP/good.csv.gz" >"$TMP/trunc.csv.gz"
bad "truncated .csv.gz" job "$TMP/trunc.csv.gz:
truncated or corrupt gzip data" -g shop -t interactions "$TMP/trunc.csv.gz"
if grep -qF '<fd:' "$TMP/err"; then
    _not_ok "truncated .csv.gz: the message names no internal '<fd:N>'" "got: $(cat "$TMP/err")"
else
    _ok "truncated .csv.gz: the message names no internal '<fd:N>'"
fi
head -c 30 "$TMP/good.csv.gz" >"$TMP/trunc2.csv.gz"
bad "truncated .csv.gz inside the header" job "$TMP/trunc2.csv.gz:
truncated or corrupt gzip data" -g shop -t interactions "$TMP/trunc2.csv.gz"

bad "nonexistent file" - "$TMP/missing.csv: cannot open: No such file or directory" \
    -g shop -t interactions "$TMP/missing.csv"
mkdir "$TMP/adir"
bad "a directory as input" - "$TMP/adir: is a directory" -g shop -t interactions "$TMP/adir"

# ---- options ---------------------------------------------------------------------------------------
usage "bad --type" "--type 'CLICKS': expected INTERACTIONS, ITEMS or USERS" \
    -g shop -t CLICKS "$DATA/interactions.csv"
usage "bad --mode" "--mode 'APPEND': expected FULL or INCREMENTAL" \
    -g shop -t interactions -m APPEND "$DATA/interactions.csv"
usage "no input file" "expected exactly one input file" -g shop -t interactions
bad "invalid --dataset-group name" nojob "--dataset-group 'no spaces allowed' is invalid" \
    -g 'no spaces allowed' -t interactions "$DATA/interactions.csv"
bad "over-long --dataset-group name" nojob "is invalid" \
    -g "$(repeat g 64)" -t interactions "$DATA/interactions.csv"

# ---- header only: decided to be a valid, empty file ---------------------------------------------
# A header-only file has 0 rows: INCREMENTAL adds nothing (the data stays as it
# is); into a new group it creates the dataset with a schema and 0 rows; a FULL
# import into a dataset that has rows is refused, since it would silently empty it.
printf '%s\n' "$H" >"$TMP/header.csv"
check "header only, INCREMENTAL: succeeds" \
    "$SAVOR" import --data-dir "$D" -g shop -t interactions -m INCREMENTAL "$TMP/header.csv"
check_contains "header only: 0 rows imported" "imported 0 rows" "$TMP/out"
check_eq "header only, INCREMENTAL: 12 interactions still" 12 \
    "$("$SAVOR" describe --data-dir "$D" -g shop | "$PY" -c 'import json,sys; print([x for x in json.load(sys.stdin)["datasetGroups"][0]["datasets"] if x["datasetType"]=="Interactions"][0]["statistics"]["interactions"])')"
D2=$(new_data_dir)
check "header only into a new group: succeeds" \
    "$SAVOR" import --data-dir "$D2" -g fresh -t interactions "$TMP/header.csv"
check_contains "header only, new group: the schema is inferred and shown" '"name":"EVENT_VALUE"' "$TMP/out"
check_eq "header only, new group: dataset with 0 interactions" 0 \
    "$("$SAVOR" describe --data-dir "$D2" -g fresh | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["datasetGroups"][0]["datasets"][0]["statistics"]["interactions"])')"

check "header only, FULL: first a good import" \
    "$SAVOR" import --data-dir "$D2" -g wipe -t interactions "$DATA/interactions.csv"
check_fails "header only, FULL over 12 rows: refused (it would empty the dataset)" \
    "header.csv: no data rows after the header; a FULL import would empty the INTERACTIONS dataset" \
    "$SAVOR" import --data-dir "$D2" -g wipe -t interactions "$TMP/header.csv"
check_eq "header only, FULL: the dataset still has 12 interactions" 12 \
    "$("$SAVOR" describe --data-dir "$D2" -g wipe | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["datasetGroups"][0]["datasets"][0]["statistics"]["interactions"])')"

# ---- one bad row in the middle of a large file ------------------------------------------------
# (re-baseline: the header-only INCREMENTAL import added an ACTIVE job)
baseline
awk -v h="$H" 'BEGIN { print h
    for (i = 1; i <= 10000; i++)
        if (i + 1 == 5000) print "u" i % 97 ",i" i % 31 ",17OO000000,click,1"
        else print "u" i % 97 ",i" i % 31 "," 1700000000 + i ",click," i % 5 }' >"$TMP/big.csv"
check_eq "the 10k file has 10001 lines" 10001 "$(wc -l <"$TMP/big.csv" | tr -d ' ')"
bad "bad row at line 5000 (FULL)" job "$TMP/big.csv:5000:
field 3 (TIMESTAMP)
'17OO000000'" -g shop -t interactions "$TMP/big.csv"
bad "bad row at line 5000 (INCREMENTAL)" job "$TMP/big.csv:5000:" \
    -g shop -t interactions -m INCREMENTAL "$TMP/big.csv"
bad "bad row at line 5000 into a new dataset of an existing group" nojob "$TMP/big.csv:5000:" \
    -g shop -t items "$TMP/big.csv"
check_eq "... the ITEMS dataset was not created" '["Interactions", "Users"]' \
    "$("$SAVOR" describe --data-dir "$D" -g shop | "$PY" -c 'import json,sys; print(json.dumps(sorted(x["datasetType"] for x in json.load(sys.stdin)["datasetGroups"][0]["datasets"])))')"
bad "bad row at line 5000 into a new group" nojob "$TMP/big.csv:5000:" \
    -g newgroup -t interactions "$TMP/big.csv"
check_fails "... describe shows the new group absent" "dataset group newgroup does not exist" \
    "$SAVOR" describe --data-dir "$D" -g newgroup

# A first import into an empty data directory leaves no group behind either.
D3=$(new_data_dir)
"$SAVOR" import --data-dir "$D3" -g first -t interactions "$TMP/big.csv" >"$TMP/out" 2>"$TMP/err"
check_eq "first import of the bad 10k file fails with exit 1" 1 "$?"
check_contains "first import: message names line 5000" "big.csv:5000: field 3 (TIMESTAMP)" "$TMP/err"
check_eq "first import: describe lists no groups" '{"datasetGroups": []}' \
    "$("$SAVOR" describe --data-dir "$D3" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')"

# The same file without the bad row imports (nothing was left locked or half-done).
awk -v h="$H" 'BEGIN { print h; for (i = 1; i <= 10000; i++) print "u" i % 97 ",i" i % 31 "," 1700000000 + i ",click," i % 5 }' >"$TMP/big-ok.csv"
check "the good 10k file then imports" "$SAVOR" import --data-dir "$D" -g shop -t interactions "$TMP/big-ok.csv"
check_contains "... with 10000 rows" "dataset now:  10000 interactions" "$TMP/out"
check_eq "the failed jobs' failure reasons are kept" 1 \
    "$("$SAVOR" describe --data-dir "$D" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
jobs = [j for g in d["datasetGroups"] for x in g["datasets"] for j in x["importJobs"]]
print(int(all(j.get("failureReason") for j in jobs if j["status"] == "CREATE FAILED")
          and any(j["status"] == "CREATE FAILED" for j in jobs)))')"

finish
