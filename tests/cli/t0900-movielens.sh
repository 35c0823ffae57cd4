#!/bin/sh
# t0900-movielens: import the real MovieLens datasets (ml-100k, ml-latest-small)
# converted by scripts/convert-movielens.py, and check the statistics savor
# reports against facts computed from the source files.
#
# The datasets live outside the repository, in $SHARED/data (../shared/data
# by default; their licences forbid committing them or anything derived from
# them). Without them the test is skipped. Everything it writes goes to $TMP.
. "$(dirname "$0")/lib.sh"

ML100K=$SHARED/data/ml-100k
MLSMALL=$SHARED/data/ml-latest-small
if [ ! -f "$ML100K/u.data" ]; then
    echo "# skipped: ../shared/data not found (MovieLens tests need it)"
    exit 0
fi
PY=/usr/bin/python3
CONVERT=$ROOT/scripts/convert-movielens.py
G=ml

# snap WHAT DATA-DIR: run `savor describe --dataset-group $G` on DATA-DIR as a
# check, keeping its JSON in $SNAP for the stat calls that follow.
SNAP=$TMP/describe.json
snap() {
    rm -f "$SNAP"
    check "$1: describe" sh -c '"$1" describe --data-dir "$2" --dataset-group "$3" >"$4"' \
        sh "$SAVOR" "$2" "$G" "$SNAP"
}

# stat TYPE KEY: a value from the last snap, for the dataset of TYPE
# (Interactions, Items or Users). KEY is a dotted path under "statistics"
# (e.g. eventTypes.rating), "jobs" for the number of import jobs, or
# "lastJob.FIELD" for a field of the newest one. Prints MISSING when absent and
# "describe failed: ..." when the JSON is unusable.
stat() {
    "$PY" -c '
import json, sys
path_, typ, key, group = sys.argv[1:5]
try:
    with open(path_) as f:
        doc = json.load(f)
    groups = [g for g in doc["datasetGroups"] if g["name"] == group]
    ds = {d["datasetType"]: d for d in groups[0]["datasets"]}
except Exception as e:
    print("describe failed: %s" % e)
    sys.exit(0)
d = ds.get(typ)
if d is None:
    print("MISSING")
    sys.exit(0)
jobs = d.get("importJobs", [])
if key == "jobs":
    print(len(jobs))
    sys.exit(0)
if key.startswith("lastJob."):
    v = max(jobs, key=lambda j: j["creationDateTime"]) if jobs else {}
    path = key.split(".")[1:]
else:
    v = d.get("statistics", {})
    path = key.split(".")
for k in path:
    v = v.get(k) if isinstance(v, dict) else None
print("MISSING" if v is None else v)
' "$SNAP" "$1" "$2" "$G"
}

# span: "MIN_TS MAX_TS" of the interactions in the last snap.
span() {
    echo "$(stat Interactions minTimestamp) $(stat Interactions maxTimestamp)"
}

# py_facts FILE: "ROWS USERS ITEMS MIN_TS MAX_TS" of a converted interactions
# CSV, computed independently of savor (by python's csv module).
py_facts() {
    "$PY" -c '
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
ts = [int(r["TIMESTAMP"]) for r in rows]
print(len(rows), len({r["USER_ID"] for r in rows}), len({r["ITEM_ID"] for r in rows}), min(ts), max(ts))
' "$1"
}

# import_into DATA-DIR TYPE FILE [ARGS...]
import_into() {
    _dir=$1 _type=$2 _file=$3
    shift 3
    "$SAVOR" import --data-dir "$_dir" --dataset-group "$G" --type "$_type" "$@" "$_file"
}

# ---- conversion -------------------------------------------------------------

C100K=$TMP/ml-100k
CSMALL=$TMP/ml-latest-small
check "convert ml-100k (with splits)" "$PY" "$CONVERT" --splits ml-100k "$ML100K" "$C100K"
check "convert ml-latest-small" "$PY" "$CONVERT" ml-latest-small "$MLSMALL" "$CSMALL"
check_fails "convert: unknown dataset is a usage error" "usage:" \
    "$PY" "$CONVERT" ml-1m "$ML100K" "$TMP/nope"
check_eq "ml-100k interactions.csv header" "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP" \
    "$(head -n 1 "$C100K/interactions.csv")"
check_eq "ml-100k items.csv header" "ITEM_ID,TITLE,GENRES,YEAR" "$(head -n 1 "$C100K/items.csv")"
check_eq "ml-100k users.csv header" "USER_ID,AGE,GENDER,OCCUPATION" "$(head -n 1 "$C100K/users.csv")"
check_eq "ml-100k first item row (genres joined by |)" \
    "1,Toy Story (1995),Animation|Children's|Comedy,1995" "$(sed -n 2p "$C100K/items.csv")"
check_eq "ml-latest-small: a title with a comma is quoted" \
    '11,"American President, The (1995)",Comedy|Drama|Romance,1995' \
    "$(grep '^11,' "$CSMALL/items.csv")"
check "ml-100k items.csv is valid UTF-8" "$PY" -c \
    'import sys; open(sys.argv[1], encoding="utf-8", errors="strict").read()' "$C100K/items.csv"

# u.item is latin-1 (this copy happens to be ASCII): a synthetic one with
# "Caf\xe9" and a comma must come out as quoted UTF-8.
FAKE=$TMP/fake-100k
mkdir -p "$FAKE"
printf '1\t7\t4\t881250949\n' >"$FAKE/u.data"
printf '7|Caf\351, Le (1995)|01-Jan-1995||http://x|0|0|0|0|0|1|0|0|1|0|0|0|0|0|0|0|0|0|0\n' >"$FAKE/u.item"
printf '1|24|M|technician|85711\n' >"$FAKE/u.user"
check "convert a latin-1 u.item" "$PY" "$CONVERT" ml-100k "$FAKE" "$TMP/fake-out"
check_eq "latin-1 title re-encoded to UTF-8 and quoted" \
    "$(printf '7,"Caf\303\251, Le (1995)",Comedy|Drama,1995')" "$(sed -n 2p "$TMP/fake-out/items.csv")"

# Facts from the original files (not the converted ones).
SRC100K=$("$PY" -c '
import sys
ts = [int(l.split("\t")[3]) for l in open(sys.argv[1])]
print(min(ts), max(ts))' "$ML100K/u.data")
SRCSMALL=$("$PY" -c '
import csv, sys
ts = [int(r["timestamp"]) for r in csv.DictReader(open(sys.argv[1], newline=""))]
print(min(ts), max(ts))' "$MLSMALL/ratings.csv")

# ---- ml-100k: FULL imports of all three datasets ----------------------------

D=$(new_data_dir)
check "ml-100k: import interactions" import_into "$D" INTERACTIONS "$C100K/interactions.csv"
check_contains "ml-100k: import reports the row count" "imported 100000 rows" "$TMP/out"
check "ml-100k: import items" import_into "$D" ITEMS "$C100K/items.csv"
check "ml-100k: import users" import_into "$D" USERS "$C100K/users.csv"
snap "ml-100k" "$D"
check_eq "ml-100k: interactions" 100000 "$(stat Interactions interactions)"
check_eq "ml-100k: users" 943 "$(stat Interactions users)"
check_eq "ml-100k: items" 1682 "$(stat Interactions items)"
check_eq "ml-100k: users with 2+ interactions" 943 "$(stat Interactions usersWith2PlusInteractions)"
check_eq "ml-100k: event type rating" 100000 "$(stat Interactions eventTypes.rating)"
check_eq "ml-100k: time span = u.data's" "$SRC100K" \
    "$(span)"
check_eq "ml-100k: meets training minimums" True "$(stat Interactions meetsTrainingMinimums)"
check_eq "ml-100k: item rows" 1682 "$(stat Items rows)"
check_eq "ml-100k: user rows" 943 "$(stat Users rows)"
check_eq "ml-100k: import job rows" 100000 "$(stat Interactions lastJob.rowsImported)"
check "ml-100k: re-import items INCREMENTAL" \
    import_into "$D" ITEMS "$C100K/items.csv" --mode INCREMENTAL
snap "ml-100k after INCREMENTAL items" "$D"
check_eq "ml-100k: INCREMENTAL items upsert by ID (still 1682 rows)" 1682 "$(stat Items rows)"
check_eq "ml-100k: items have 2 import jobs" 2 "$(stat Items jobs)"

# ---- ml-100k: FULL u1.base, INCREMENTAL u1.test, FULL u1.base again ---------

BASE=$C100K/splits/u1.base.csv
TEST=$C100K/splits/u1.test.csv
set -- $(py_facts "$BASE") ? ? ? ? ?
BASE_ROWS=$1 BASE_USERS=$2 BASE_ITEMS=$3 BASE_MIN=$4 BASE_MAX=$5
check_eq "u1.base has 80000 rows (python)" 80000 "$BASE_ROWS"
D=$(new_data_dir)
check "u1.base: FULL import" import_into "$D" INTERACTIONS "$BASE" --mode FULL
snap "u1.base" "$D"
check_eq "u1.base: interactions" "$BASE_ROWS" "$(stat Interactions interactions)"
check_eq "u1.base: items" "$BASE_ITEMS" "$(stat Interactions items)"
check "u1.test: INCREMENTAL import" import_into "$D" INTERACTIONS "$TEST" --mode INCREMENTAL
snap "u1.base + u1.test" "$D"
check_eq "u1.base + u1.test: 100000 interactions" 100000 "$(stat Interactions interactions)"
check_eq "u1.base + u1.test: 943 users" 943 "$(stat Interactions users)"
check_eq "u1.base + u1.test: 1682 items" 1682 "$(stat Interactions items)"
check_eq "u1.base + u1.test: rating=100000" 100000 "$(stat Interactions eventTypes.rating)"
check_eq "u1.base + u1.test: time span = u.data's" "$SRC100K" \
    "$(span)"
check_eq "u1.test: job mode INCREMENTAL" INCREMENTAL "$(stat Interactions lastJob.importMode)"
check "u1.base: FULL re-import" import_into "$D" INTERACTIONS "$BASE" --mode FULL
snap "FULL re-import" "$D"
check_eq "FULL re-import replaces: interactions back to u1.base's" "$BASE_ROWS" \
    "$(stat Interactions interactions)"
check_eq "FULL re-import replaces: items back to u1.base's" "$BASE_ITEMS" \
    "$(stat Interactions items)"
check_eq "FULL re-import replaces: users" "$BASE_USERS" "$(stat Interactions users)"
check_eq "FULL re-import replaces: rating count" "$BASE_ROWS" "$(stat Interactions eventTypes.rating)"
check_eq "FULL re-import replaces: time span = u1.base's" "$BASE_MIN $BASE_MAX" \
    "$(span)"
check_eq "three interaction import jobs" 3 "$(stat Interactions jobs)"

# ---- ml-100k: .csv.gz and stdin ---------------------------------------------

check "gzip interactions.csv" sh -c 'gzip -c "$1" >"$2"' sh "$C100K/interactions.csv" "$TMP/i.csv.gz"
D=$(new_data_dir)
check "ml-100k: import .csv.gz" import_into "$D" INTERACTIONS "$TMP/i.csv.gz"
snap "ml-100k .csv.gz" "$D"
check_eq "ml-100k .csv.gz: interactions" 100000 "$(stat Interactions interactions)"
check_eq "ml-100k .csv.gz: users" 943 "$(stat Interactions users)"
check_eq "ml-100k .csv.gz: items" 1682 "$(stat Interactions items)"
check_eq "ml-100k .csv.gz: time span" "$SRC100K" \
    "$(span)"

D=$(new_data_dir)
check "ml-100k: import interactions from stdin" \
    import_into "$D" INTERACTIONS - <"$C100K/interactions.csv"
snap "ml-100k stdin" "$D"
check_eq "ml-100k stdin: interactions" 100000 "$(stat Interactions interactions)"
check_eq "ml-100k stdin: users" 943 "$(stat Interactions users)"
check_eq "ml-100k stdin: items" 1682 "$(stat Interactions items)"
check "ml-100k: import users from stdin" import_into "$D" USERS - <"$C100K/users.csv"
snap "ml-100k stdin users" "$D"
check_eq "ml-100k stdin: user rows" 943 "$(stat Users rows)"
check "ml-100k: import gzip from stdin" \
    import_into "$D" INTERACTIONS - --mode INCREMENTAL <"$TMP/i.csv.gz"
snap "ml-100k stdin gzip INCREMENTAL" "$D"
check_eq "ml-100k stdin gzip INCREMENTAL: interactions doubled" 200000 \
    "$(stat Interactions interactions)"
check_eq "ml-100k stdin gzip INCREMENTAL: items unchanged" 1682 "$(stat Interactions items)"

# ---- ml-latest-small --------------------------------------------------------

set -- $(py_facts "$CSMALL/interactions.csv") ? ? ? ? ?
check_eq "ml-latest-small converted: rows users items (python)" "100836 610 9724" "$1 $2 $3"
D=$(new_data_dir)
check "ml-latest-small: import interactions" import_into "$D" INTERACTIONS "$CSMALL/interactions.csv"
check "ml-latest-small: import items" import_into "$D" ITEMS "$CSMALL/items.csv"
snap "ml-latest-small" "$D"
check_eq "ml-latest-small: interactions" 100836 "$(stat Interactions interactions)"
check_eq "ml-latest-small: users" 610 "$(stat Interactions users)"
check_eq "ml-latest-small: items" 9724 "$(stat Interactions items)"
check_eq "ml-latest-small: event type rating" 100836 "$(stat Interactions eventTypes.rating)"
check_eq "ml-latest-small: item rows" 9742 "$(stat Items rows)"
check_eq "ml-latest-small: no users dataset" MISSING "$(stat Users rows)"
check_eq "ml-latest-small: time span = ratings.csv's" "$SRCSMALL" \
    "$(span)"

gzip -c "$CSMALL/interactions.csv" >"$TMP/s.csv.gz"
D=$(new_data_dir)
check "ml-latest-small: import .csv.gz from stdin" import_into "$D" INTERACTIONS - <"$TMP/s.csv.gz"
snap "ml-latest-small .csv.gz stdin" "$D"
check_eq "ml-latest-small .csv.gz stdin: interactions" 100836 "$(stat Interactions interactions)"
check "ml-latest-small: import items from stdin" import_into "$D" ITEMS - <"$CSMALL/items.csv"
snap "ml-latest-small stdin items" "$D"
check_eq "ml-latest-small stdin: item rows" 9742 "$(stat Items rows)"

finish
