#!/bin/sh
# t0100-import-basics: `savor import` on good input: inferred and explicit
# schemas, the CSV dialect (quotes, CRLF, BOM, empty values, multi-value
# categoricals), .csv.gz and stdin, FULL vs INCREMENTAL, the summary, the
# warnings (milliseconds, Personalize minimums) and the progress line.
. "$(dirname "$0")/lib.sh"

DATA=$ROOT/tests/data
PY=/usr/bin/python3

# dj DIR EXPR: evaluate the Python expression EXPR over `savor describe`'s
# JSON (d; ds(group, type) is a dataset, jobs(group, type) its import jobs)
# and print the result (strings as is, everything else as sorted JSON).
cat >"$TMP/dj.py" <<'EOF'
import json, sys
d = json.load(sys.stdin)
def group(g):
    for G in d["datasetGroups"]:
        if G["name"] == g:
            return G
    return None
def ds(g, t):
    G = group(g)
    for x in (G["datasets"] if G else []):
        if x["datasetType"].upper() == t.upper():
            return x
    return None
def jobs(g, t):
    return ds(g, t)["importJobs"]
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))
EOF
dj() {
    "$SAVOR" describe --data-dir "$1" | "$PY" "$TMP/dj.py" "$2"
}

# item DIR GROUP TYPE ID: the stored metadata row of one item (or user) as
# sorted JSON, read from the store (entity_rows, keyed by the group's ID map).
cat >"$TMP/item.py" <<'EOF'
import json, sqlite3, sys
path, group, dtype, key = sys.argv[1:5]
db = sqlite3.connect(path)
g = db.execute("select id from resources where kind='dataset-group' and name=?", (group,)).fetchone()
if not g:
    sys.exit(print("<no group>"))
gid = g[0]
ds = db.execute("select id from resources where kind='dataset' and parent_id=? and name=?",
                (gid, group + "-" + dtype.lower())).fetchone()
if not ds:
    sys.exit(print("<no dataset>"))
did = ds[0]
space = 1 if dtype.upper() == "ITEMS" else 0
ids = []
for (blob,) in db.execute("select data from id_chunks where group_id=? and space=? order by first_idx",
                          (gid, space)):
    ids += bytes(blob).split(b"\0")[:-1]
if key.encode() not in ids:
    sys.exit(print("<unknown id>"))
idx = ids.index(key.encode())
row = db.execute("select data from entity_rows where dataset_id=? and idx=?", (did, idx)).fetchone()
print(json.dumps(json.loads(row[0]), sort_keys=True) if row else "<absent>")
EOF
item() {
    "$PY" "$TMP/item.py" "$1/savor.db" "$2" "$3" "$4"
}

# no_progress WHAT FILE: FILE has no progress line (no "import [", no CR redraws).
no_progress() {
    if grep -q "$(printf '\r')" "$2" || grep -qF 'import [' "$2"; then
        _not_ok "$1" "stderr has a progress line: $(tr '\r' '|' <"$2" | head -c 300)"
    else
        _ok "$1"
    fi
}

INFERRED='{"fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]}], "name": "Interactions", "namespace": "com.amazonaws.personalize.schema", "type": "record", "version": "1.0"}'

# ---- inferred schema, summary, minimums warning -----------------------------
D=$(new_data_dir)
check "import interactions with an inferred schema" \
    "$SAVOR" import --data-dir "$D" -g shop -t INTERACTIONS "$DATA/interactions.csv"
cp "$TMP/out" "$TMP/out1"
cp "$TMP/err" "$TMP/err1"
check_contains "the inferred schema is announced" "schema (inferred from the header" "$TMP/out1"
check_contains "the inferred schema JSON is printed" \
    '{"name":"EVENT_VALUE","type":["null","float"]}' "$TMP/out1"
printed=$(sed -n '2p' "$TMP/out1" | "$PY" -c 'import json,sys; print(json.dumps(json.loads(sys.stdin.read()), sort_keys=True))')
check_eq "the printed schema is the inferred one" "$INFERRED" "$printed"
check_eq "the inferred schema is stored (describe)" "$INFERRED" "$(dj "$D" 'ds("shop","interactions")["schema"]')"
check_eq "describe: 12 interactions" 12 "$(dj "$D" 'ds("shop","interactions")["statistics"]["interactions"]')"
check_eq "describe: 4 users, 5 items" "4 5" \
    "$(dj "$D" '"%d %d" % (ds("shop","interactions")["statistics"]["users"], ds("shop","interactions")["statistics"]["items"])')"
check_eq "describe: event types" '{"click": 5, "purchase": 2, "view": 5}' \
    "$(dj "$D" 'ds("shop","interactions")["statistics"]["eventTypes"]')"
check_eq "describe: time span" "1700000000 1700086400" \
    "$(dj "$D" '"%d %d" % (ds("shop","interactions")["statistics"]["minTimestamp"], ds("shop","interactions")["statistics"]["maxTimestamp"])')"
check_eq "describe: one ACTIVE FULL job with 12 rows" '[["ACTIVE", "FULL", 12]]' \
    "$(dj "$D" '[[j["status"], j["importMode"], j["rowsImported"]] for j in jobs("shop","interactions")]')"
check_contains "summary: rows" "imported 12 rows into" "$TMP/out1"
check_contains "summary: dataset counts" "dataset now:  12 interactions, 4 users, 5 items" "$TMP/out1"
check_contains "summary: new IDs" "new IDs:      4 users, 5 items" "$TMP/out1"
check_contains "summary: event type click" "click=5" "$TMP/out1"
check_contains "summary: event type view" "view=5" "$TMP/out1"
check_contains "summary: event type purchase" "purchase=2" "$TMP/out1"
check_contains "summary: time span" \
    "time span:    2023-11-14T22:13:20Z .. 2023-11-15T22:13:20Z (1.0 days)" "$TMP/out1"
check_contains "fewer than 1000 interactions: warning" \
    "savor: warning: the dataset has 12 interactions, fewer than the 1000 Personalize requires" "$TMP/err1"
check_contains "minimums shown as NOT met in the summary" "minimums:     NOT met" "$TMP/out1"
no_progress "no --progress and no terminal: no progress line on stderr" "$TMP/err1"

# ---- FULL replaces, INCREMENTAL appends ---------------------------------------
check "INCREMENTAL interactions import" \
    "$SAVOR" import --data-dir "$D" -g shop -t interactions -m INCREMENTAL "$DATA/interactions-more.csv"
check_contains "INCREMENTAL: no schema inferred again" "imported 3 rows" "$TMP/out"
if grep -qF "inferred" "$TMP/out"; then _not_ok "INCREMENTAL into an existing dataset prints no inferred schema"; else _ok "INCREMENTAL into an existing dataset prints no inferred schema"; fi
check_contains "INCREMENTAL summary: appended" "dataset now:  15 interactions, 5 users, 6 items" "$TMP/out"
check_contains "INCREMENTAL summary: new IDs" "new IDs:      1 users, 1 items" "$TMP/out"
check_eq "INCREMENTAL appends: 15 interactions" 15 "$(dj "$D" 'ds("shop","interactions")["statistics"]["interactions"]')"
check_eq "INCREMENTAL: new event type counted" '{"click": 6, "purchase": 2, "share": 1, "view": 6}' \
    "$(dj "$D" 'ds("shop","interactions")["statistics"]["eventTypes"]')"
check "FULL interactions import" \
    "$SAVOR" import --data-dir "$D" -g shop -t interactions -m full "$DATA/interactions-more.csv"
check_contains "FULL summary: replaced" "dataset now:  3 interactions, 2 users, 2 items" "$TMP/out"
check_eq "FULL replaces: 3 interactions" 3 "$(dj "$D" 'ds("shop","interactions")["statistics"]["interactions"]')"
check_eq "FULL replaces: time span of the new file" "1700090000 1700097200" \
    "$(dj "$D" '"%d %d" % (ds("shop","interactions")["statistics"]["minTimestamp"], ds("shop","interactions")["statistics"]["maxTimestamp"])')"
check_eq "three jobs recorded, modes in order" '[["ACTIVE", "FULL", 12], ["ACTIVE", "INCREMENTAL", 3], ["ACTIVE", "FULL", 3]]' \
    "$(dj "$D" '[[j["status"], j["importMode"], j["rowsImported"]] for j in jobs("shop","interactions")]')"
check "FULL again restores the first file" \
    "$SAVOR" import --data-dir "$D" -g shop -t interactions "$DATA/interactions.csv"
check_eq "FULL re-import: 12 interactions again" 12 "$(dj "$D" 'ds("shop","interactions")["statistics"]["interactions"]')"

# ---- explicit --schema ----------------------------------------------------------
check "import with an explicit --schema" \
    "$SAVOR" import --data-dir "$D" -g explicit -t interactions --schema "$DATA/interactions-schema.json" \
    --job-name first-load "$DATA/interactions-device.csv"
if grep -qF "inferred" "$TMP/out"; then _not_ok "--schema: nothing inferred"; else _ok "--schema: nothing inferred"; fi
want=$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$DATA/interactions-schema.json")
check_eq "--schema: the stored schema is the given one" "$want" "$(dj "$D" 'ds("explicit","interactions")["schema"]')"
check_eq "--schema: 3 rows" 3 "$(dj "$D" 'ds("explicit","interactions")["statistics"]["interactions"]')"
check_eq "--job-name names the job" '["first-load"]' "$(dj "$D" '[j["jobName"] for j in jobs("explicit","interactions")]')"
check "the same --schema again is accepted" \
    "$SAVOR" import --data-dir "$D" -g explicit -t interactions --schema "$DATA/interactions-schema.json" \
    "$DATA/interactions.csv"
check_eq "a file without the nullable DEVICE column imports" 12 \
    "$(dj "$D" 'ds("explicit","interactions")["statistics"]["interactions"]')"

# ---- ITEMS: quoting, textual field, empty values, multi-value categoricals ----
check "import items (quotes, embedded commas/quotes/newline)" \
    "$SAVOR" import --data-dir "$D" -g shop -t items "$DATA/items.csv"
check_contains "items summary: 4 rows" "imported 4 rows into" "$TMP/out"
check_contains "items summary: dataset now 4 items" "dataset now:  4 items" "$TMP/out"
check_eq "items: inferred types (DESCRIPTION textual, GENRES categorical, PRICE double, IN_STOCK boolean)" \
    '[["ITEM_ID", "string", false, false], ["TITLE", ["null", "string"], true, false], ["GENRES", ["null", "string"], true, false], ["PRICE", ["null", "double"], false, false], ["IN_STOCK", ["null", "boolean"], false, false], ["DESCRIPTION", ["null", "string"], false, true], ["CREATION_TIMESTAMP", "long", false, false]]' \
    "$(dj "$D" '[[f["name"], f["type"], f.get("categorical", False), f.get("textual", False)] for f in ds("shop","items")["schema"]["fields"]]')"
check_eq "describe: 4 item rows" 4 "$(dj "$D" 'ds("shop","items")["statistics"]["rows"]')"
check_eq "item i1: quoted comma, doubled quotes, newline, split genres" \
    '{"CREATION_TIMESTAMP": 1600000000, "DESCRIPTION": "A \"spice\" epic, in two parts.\nSecond line of the description.", "GENRES": ["sci-fi", "drama", "adventure"], "IN_STOCK": true, "PRICE": 12.5, "TITLE": ["Dune, Part One"]}' \
    "$(item "$D" shop ITEMS i1)"
check_eq "item i2: empty nullable PRICE is null (absent)" \
    '{"CREATION_TIMESTAMP": 1600000100, "DESCRIPTION": "Short text.", "GENRES": ["comedy"], "IN_STOCK": false, "TITLE": ["Plain Title"]}' \
    "$(item "$D" shop ITEMS i2)"
check_eq "item i3: backslash-escaped quotes, empty boolean and empty quoted text are null" \
    '{"CREATION_TIMESTAMP": 1600000200, "GENRES": ["horror"], "PRICE": 7.0, "TITLE": ["Odd \"escaped\" title"]}' \
    "$(item "$D" shop ITEMS i3)"
check_eq "item i4: empty categorical is null, commas and quotes in text" \
    '{"CREATION_TIMESTAMP": 1600000300, "DESCRIPTION": "Commas, commas, and \"quotes\" everywhere", "IN_STOCK": true, "PRICE": 9.99, "TITLE": ["No Genre"]}' \
    "$(item "$D" shop ITEMS i4)"

# INCREMENTAL upserts items by ID.
check "INCREMENTAL items import (one changed, one new)" \
    "$SAVOR" import --data-dir "$D" -g shop -t items --mode incremental "$DATA/items-update.csv"
check_contains "items INCREMENTAL summary: 5 items" "dataset now:  5 items" "$TMP/out"
check_eq "INCREMENTAL items: 4 + 1 new = 5 rows" 5 "$(dj "$D" 'ds("shop","items")["statistics"]["rows"]')"
check_eq "INCREMENTAL items: i2's metadata replaced" \
    '{"CREATION_TIMESTAMP": 1600000100, "DESCRIPTION": "Longer text now.", "GENRES": ["comedy", "drama"], "IN_STOCK": true, "PRICE": 14.0, "TITLE": ["Plain Title (Director'"'"'s Cut)"]}' \
    "$(item "$D" shop ITEMS i2)"
check_eq "INCREMENTAL items: i1 untouched" \
    '["sci-fi", "drama", "adventure"]' "$(item "$D" shop ITEMS i1 | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["GENRES"]))')"
check_eq "INCREMENTAL items: i5 added" '["documentary"]' \
    "$(item "$D" shop ITEMS i5 | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["GENRES"]))')"
check "INCREMENTAL items again (same file) is idempotent" \
    "$SAVOR" import --data-dir "$D" -g shop -t items -m INCREMENTAL "$DATA/items-update.csv"
check_eq "re-upserting the same IDs keeps 5 rows" 5 "$(dj "$D" 'ds("shop","items")["statistics"]["rows"]')"
check "FULL items import replaces" \
    "$SAVOR" import --data-dir "$D" -g shop -t items "$DATA/items-update.csv"
check_eq "FULL items: only the 2 rows of the file" 2 "$(dj "$D" 'ds("shop","items")["statistics"]["rows"]')"
check_eq "FULL items: i1 is gone" "<absent>" "$(item "$D" shop ITEMS i1)"

# USERS: multi-value categorical, empty nullable values, booleans, longs.
check "import users" "$SAVOR" import --data-dir "$D" -g shop -t users "$DATA/users.csv"
check_eq "users: 4 rows" 4 "$(dj "$D" 'ds("shop","users")["statistics"]["rows"]')"
check_eq "user u3: COUNTRY US|CA split into a list" \
    '{"AGE": 45, "COUNTRY": ["US", "CA"], "MEMBER": true}' "$(item "$D" shop USERS u3)"
check_eq "user u2: empty AGE and COUNTRY are null" '{"MEMBER": false}' "$(item "$D" shop USERS u2)"
check_eq "describe: the group has 3 datasets" '["Interactions", "Items", "Users"]' \
    "$(dj "$D" 'sorted(x["datasetType"] for x in group("shop")["datasets"])')"

# ---- CRLF, BOM, .csv.gz, stdin ----------------------------------------------------
# EVENT_TYPE is the last column, so a CR kept at the line end would show in its values.
cat >"$TMP/lf.csv" <<'EOF'
USER_ID,ITEM_ID,TIMESTAMP,EVENT_VALUE,EVENT_TYPE
u1,i1,1700000000,1,click
u2,i2,1700000100,,view

u3,i1,1700000200,2,click
EOF
awk '{ printf "%s\r\n", $0 }' "$TMP/lf.csv" >"$TMP/crlf.csv"
check "CRLF file (with a blank line) imports" "$SAVOR" import --data-dir "$D" -g crlf -t interactions "$TMP/crlf.csv"
check_eq "CRLF: 3 rows, event types without CR" '[3, {"click": 2, "view": 1}]' \
    "$(dj "$D" '[ds("crlf","interactions")["statistics"][k] for k in ("interactions","eventTypes")]')"
check_eq "CRLF: last header column is EVENT_TYPE (no CR in field names)" "EVENT_TYPE" \
    "$(dj "$D" 'ds("crlf","interactions")["schema"]["fields"][-1]["name"]')"

printf '\357\273\277' | cat - "$DATA/interactions.csv" >"$TMP/bom.csv"
check "BOM file imports" "$SAVOR" import --data-dir "$D" -g bom -t interactions "$TMP/bom.csv"
check_eq "BOM: schema identical to the plain file's (USER_ID recognised)" "$INFERRED" \
    "$(dj "$D" 'ds("bom","interactions")["schema"]')"
check_eq "BOM: 12 rows" 12 "$(dj "$D" 'ds("bom","interactions")["statistics"]["interactions"]')"

gzip -c "$DATA/interactions.csv" >"$TMP/inter.csv.gz"
check "a .csv.gz file imports" "$SAVOR" import --data-dir "$D" -g gz -t interactions "$TMP/inter.csv.gz"
check_eq ".csv.gz: 12 rows, same stats" '[12, 4, 5]' \
    "$(dj "$D" '[ds("gz","interactions")["statistics"][k] for k in ("interactions","users","items")]')"
check_eq ".csv.gz: the job's data location is the file" "file://$(cd "$TMP" && pwd -P)/inter.csv.gz" \
    "$(dj "$D" 'jobs("gz","interactions")[0]["dataSource"]["dataLocation"]')"

check "stdin (-) imports" sh -c '"$1" import --data-dir "$2" -g stdin -t interactions - <"$3"' sh \
    "$SAVOR" "$D" "$DATA/interactions.csv"
check_contains "stdin: summary" "imported 12 rows" "$TMP/out"
check_eq "stdin: 12 rows" 12 "$(dj "$D" 'ds("stdin","interactions")["statistics"]["interactions"]')"
check_eq "stdin: the job's data location is stdin" "stdin" \
    "$(dj "$D" 'jobs("stdin","interactions")[0]["dataSource"]["dataLocation"]')"
check "gzip data on stdin imports" sh -c '"$1" import --data-dir "$2" -g stdingz -t interactions - <"$3"' sh \
    "$SAVOR" "$D" "$TMP/inter.csv.gz"
check_eq "gzip on stdin: 12 rows" 12 "$(dj "$D" 'ds("stdingz","interactions")["statistics"]["interactions"]')"

# ---- milliseconds, boundaries --------------------------------------------------------
check "TIMESTAMP in milliseconds still imports" \
    "$SAVOR" import --data-dir "$D" -g millis -t interactions "$DATA/interactions-ms.csv"
check_contains "milliseconds: a warning" "3 timestamps look like milliseconds (first on line 2)" "$TMP/err"
check_contains "milliseconds: the warning says what to do" "divide them by 1000" "$TMP/err"
check_eq "milliseconds: 3 rows stored" 3 "$(dj "$D" 'ds("millis","interactions")["statistics"]["interactions"]')"
if grep -qF milliseconds "$TMP/err1"; then _not_ok "seconds: no milliseconds warning"; else _ok "seconds: no milliseconds warning"; fi

# An ID of exactly 256 bytes and a field of exactly 128 KiB are within the limits.
# repeat CHAR N: CHAR written N times.
repeat() {
    awk -v c="$1" -v n="$2" 'BEGIN { s = c; while (length(s) < n) s = s s; printf "%s", substr(s, 1, n) }'
}
printf 'USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,%s,1700000000,click\n' "$(repeat x 256)" >"$TMP/id256.csv"
check "an ITEM_ID of exactly 256 bytes is accepted" \
    "$SAVOR" import --data-dir "$D" -g limits -t interactions "$TMP/id256.csv"
printf 'ITEM_ID,DESCRIPTION\ni1,"%s"\n' "$(repeat y 131072)" >"$TMP/field128k.csv"
check "a field of exactly 128 KiB is accepted" \
    "$SAVOR" import --data-dir "$D" -g limits -t items "$TMP/field128k.csv"
check_eq "the 128 KiB value is stored whole" 131072 \
    "$(item "$D" limits ITEMS i1 | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["DESCRIPTION"]))')"

# ---- progress ------------------------------------------------------------------------
check "--progress without a terminal" \
    "$SAVOR" import --data-dir "$D" -g prog -t interactions --progress "$DATA/interactions.csv"
check_contains "--progress draws a progress bar on stderr" "import [" "$TMP/err"
check_contains "--progress ends at 100%" "100%" "$TMP/err"
if grep -qF 'import [' "$TMP/out"; then _not_ok "--progress: nothing on stdout"; else _ok "--progress: nothing on stdout"; fi
check "no --progress, stderr not a terminal" \
    "$SAVOR" import --data-dir "$D" -g prog -t interactions -m INCREMENTAL "$DATA/interactions.csv"
no_progress "without --progress and without a terminal: no progress line" "$TMP/err"

finish
