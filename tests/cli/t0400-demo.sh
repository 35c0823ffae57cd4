#!/bin/sh
# t0400-demo: `savor demo` generates the creators' platform CSVs and imports
# them into the 'demo' group (3 datasets); running it again gives the same
# data (FULL re-imports); --generate-only just writes the three CSV files.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SIZE="--users 300 --items 100 --creators 20 --events 8000"

# summary DIR [GROUP]: the demo group's datasets as one line of JSON: per type
# its row count (interactions: the count, the event types and their total).
summary() {
    "$SAVOR" describe --data-dir "$1" -g "${2:-demo}" | "$PY" -c '
import json, sys
g = json.load(sys.stdin)["datasetGroups"][0]
out = {}
for d in g["datasets"]:
    st = d["statistics"]
    if d["datasetType"] == "Interactions":
        out["Interactions"] = [st["interactions"], sorted(st["eventTypes"]),
                               sum(st["eventTypes"].values())]
    else:
        out[d["datasetType"]] = st["rows"]
print(json.dumps(out, sort_keys=True))'
}

D=$(new_data_dir)
# shellcheck disable=SC2086 # $SIZE is a list of options
check "savor demo --no-serve (small)" "$SAVOR" demo --no-serve --data-dir "$D" $SIZE
cp "$TMP/out" "$TMP/demo1.out"
check_contains "demo reports the generated data" \
    "demo data: 300 users, 100 works, 20 creators, 8000 events written to $D/demo-csv" "$TMP/demo1.out"
check_contains "demo imports interactions" "imported 8000 rows into" "$TMP/demo1.out"
check_contains "demo says the group is ready" "dataset group 'demo' is ready" "$TMP/demo1.out"
check_eq "demo writes the three CSV files to DATA_DIR/demo-csv" "interactions.csv items.csv users.csv" \
    "$(cd "$D/demo-csv" && echo *)"
check_eq "describe: the demo group has 3 datasets" '["Interactions", "Items", "Users"]' \
    "$("$SAVOR" describe --data-dir "$D" | "$PY" -c 'import json,sys; g=[g for g in json.load(sys.stdin)["datasetGroups"] if g["name"]=="demo"][0]; print(json.dumps(sorted(d["datasetType"] for d in g["datasets"])))')"
WANT='{"Interactions": [8000, ["like", "subscribe", "view"], 8000], "Items": 100, "Users": 300}'
check_eq "describe: 8000 interactions (view/like/subscribe), 100 item rows, 300 user rows" \
    "$WANT" "$(summary "$D")"
check_eq "the CSV files hold those rows (plus a header)" "8001 101 301" \
    "$(for f in interactions items users; do wc -l <"$D/demo-csv/$f.csv" | tr -d ' '; done | tr '\n' ' ' | sed 's/ $//')"
check_eq "describe: every import job ACTIVE (3)" '["ACTIVE", "ACTIVE", "ACTIVE"]' \
    "$("$SAVOR" describe --data-dir "$D" -g demo | "$PY" -c 'import json,sys; print(json.dumps([j["status"] for d in json.load(sys.stdin)["datasetGroups"][0]["datasets"] for j in d["importJobs"]]))')"
check_eq "describe: the demo interactions meet the training minimums" "True" \
    "$("$SAVOR" describe --data-dir "$D" -g demo | "$PY" -c 'import json,sys; print([d for d in json.load(sys.stdin)["datasetGroups"][0]["datasets"] if d["datasetType"]=="Interactions"][0]["statistics"]["meetsTrainingMinimums"])')"
for f in interactions items users; do
    cp "$D/demo-csv/$f.csv" "$TMP/first-$f.csv"
done

# Again: same files, same counts (FULL re-imports replace, nothing doubles).
check "savor demo again" "$SAVOR" demo --no-serve --data-dir "$D" $SIZE
check_eq "demo again: the same counts" "$WANT" "$(summary "$D")"
for f in interactions items users; do
    check "demo again: $f.csv regenerated identically (same seed)" cmp "$TMP/first-$f.csv" "$D/demo-csv/$f.csv"
done
check_eq "demo again: 6 ACTIVE FULL jobs in all" '[6, ["FULL"], ["ACTIVE"]]' \
    "$("$SAVOR" describe --data-dir "$D" -g demo | "$PY" -c '
import json, sys
jobs = [j for d in json.load(sys.stdin)["datasetGroups"][0]["datasets"] for j in d["importJobs"]]
print(json.dumps([len(jobs), sorted({j["importMode"] for j in jobs}), sorted({j["status"] for j in jobs})]))')"

# Another seed gives other data of the same size.
check "savor demo --seed 7 into another group" "$SAVOR" demo --no-serve --data-dir "$D" -g demo7 --seed 7 \
    --csv-dir "$TMP/seed7" $SIZE
check_eq "seed 7: the same sizes" "$WANT" "$(summary "$D" demo7)"
if cmp -s "$TMP/first-interactions.csv" "$TMP/seed7/interactions.csv"; then
    _not_ok "seed 7: different interactions than seed 42"
else
    _ok "seed 7: different interactions than seed 42"
fi

# --generate-only --csv-dir: the three CSV files and nothing else.
D2=$TMP/never-created
check "demo --generate-only --csv-dir" "$SAVOR" demo --data-dir "$D2" --generate-only \
    --csv-dir "$TMP/gen" $SIZE
check_contains "generate-only reports the files" "8000 events written to $TMP/gen" "$TMP/out"
if grep -qF "imported" "$TMP/out"; then _not_ok "generate-only imports nothing"; else _ok "generate-only imports nothing"; fi
check_eq "generate-only writes exactly the three CSV files" "interactions.csv items.csv users.csv" \
    "$(cd "$TMP/gen" && echo *)"
check_eq "generate-only creates no data directory" "absent" "$([ -e "$D2" ] && echo present || echo absent)"
for f in interactions items users; do
    check "generate-only: $f.csv is the same as demo's" cmp "$TMP/first-$f.csv" "$TMP/gen/$f.csv"
done
check_eq "generate-only: each header has its dataset's required columns" "yes yes yes" \
    "$(head -n 1 "$TMP/gen/interactions.csv" | grep -q 'USER_ID' && head -n 1 "$TMP/gen/interactions.csv" | grep -q 'ITEM_ID' && head -n 1 "$TMP/gen/interactions.csv" | grep -q 'TIMESTAMP' && echo yes) $(head -n 1 "$TMP/gen/items.csv" | grep -q '^ITEM_ID' && echo yes) $(head -n 1 "$TMP/gen/users.csv" | grep -q '^USER_ID' && echo yes)"

check_fails "demo: a bad --events value is a usage error" "--events 'many'" \
    "$SAVOR" demo --data-dir "$TMP/bad" --events many

finish
