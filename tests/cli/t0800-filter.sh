#!/bin/sh
# t0800-filter: savor recommend / rank --filter on the demo data: items the
# user interacted with excluded, a genre by parameter, a filtered list that
# is the unfiltered ranking restricted to what passes (and still full),
# related items with CurrentItem, and precise errors for bad expressions.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

D=$(new_data_dir)
check "savor demo (small)" "$SAVOR" demo --no-serve --data-dir "$D" --users 300 --items 100 --creators 20 --events 8000
V=$(sed -n 's/.*--solution-version \([^ ]*demo-user-personalization[^ ]*\) .*/\1/p' "$TMP/out")
VS=$(sed -n 's/.*--solution-version \([^ ]*demo-sims[^ ]*\) .*/\1/p' "$TMP/out")
CSV=$D/demo-csv
U=user-00042

# verify WHAT JSON-FILE MODE ARGS: checks in Python against the demo CSV files.
verify() {
    what=$1
    shift
    if out=$("$PY" - "$CSV" "$@" <<'PYEOF' 2>&1
import csv, json, sys
csvdir, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
def ids(path):
    d = json.load(open(path))
    return [x["itemId"] for x in d.get("itemList", d.get("personalizedRanking", []))]
items = {r["ITEM_ID"]: r for r in csv.DictReader(open(csvdir + "/items.csv"))}
inter = list(csv.DictReader(open(csvdir + "/interactions.csv")))
def touched(user, types=None):
    return {r["ITEM_ID"] for r in inter if r["USER_ID"] == user and
            (types is None or r["EVENT_TYPE"].lower() in types)}
with_data = {r["ITEM_ID"] for r in inter}
def restricted(full, ok, n):
    return [i for i in ids(full) if ok(i)][:n]
if mode == "exclude-touched":       # filtered unfiltered-all user n [types]
    f, full, user, n = args[0], args[1], args[2], int(args[3])
    types = set(args[4].split(",")) if len(args) > 4 else None
    t = touched(user, types)
    want = restricted(full, lambda i: i not in t, n)
    assert ids(f) == want, (ids(f), want)
    assert len(want) == min(n, len(with_data - t)), "the list is not full"
elif mode == "genre":               # filtered unfiltered-all genre n
    f, full, genre, n = args[0], args[1], args[2], int(args[3])
    ok = lambda i: genre in items[i]["GENRES"].split("|")
    want = restricted(full, ok, n)
    assert ids(f) == want, (ids(f), want)
    assert len(want) == min(n, len([i for i in with_data if ok(i)])), "the list is not full"
elif mode == "creator-of":          # filtered item
    f, item = args[0], args[1]
    got = ids(f)
    assert got, "empty"
    assert all(items[i]["CREATOR_ID"] == items[item]["CREATOR_ID"] for i in got), got
    assert item not in got
elif mode == "ids":                 # file expected-space-separated
    assert " ".join(ids(args[0])) == args[1], ids(args[0])
print("ok")
PYEOF
); then _ok "$what"; else _not_ok "$what" "$out"; fi
}

check "unfiltered, all items" "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U -n 500
cp "$TMP/out" "$TMP/all.json"

check "EXCLUDE what the user interacted with" "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U -n 25 \
    --filter 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'
verify "  = the ranking without the user's items, 25 long" exclude-touched "$TMP/out" "$TMP/all.json" $U 25

check "EXCLUDE liked items (event types match in any case)" "$SAVOR" recommend --data-dir "$D" -v "$V" \
    -u $U -n 25 --filter 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("LIKE", "subscribe")'
verify "  = the ranking without liked/subscribed items" exclude-touched "$TMP/out" "$TMP/all.json" $U 25 like,subscribe

check "INCLUDE a genre given as a parameter" "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U -n 10 \
    --filter 'INCLUDE ItemID WHERE Items.GENRES IN ($G)' --filter-values '{"G": "\"romance\""}'
verify "  = the ranking restricted to romance works, 10 long" genre "$TMP/out" "$TMP/all.json" romance 10

check "chained: romance, not interacted with" "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U -n 500 \
    --filter 'INCLUDE ItemID WHERE Items.GENRES IN ("romance") | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'
"$PY" -c '
import csv, json, sys
d = json.load(open(sys.argv[1]))["itemList"]
items = {r["ITEM_ID"]: r for r in csv.DictReader(open(sys.argv[2] + "/items.csv"))}
seen = {r["ITEM_ID"] for r in csv.DictReader(open(sys.argv[2] + "/interactions.csv")) if r["USER_ID"] == sys.argv[3]}
bad = [x["itemId"] for x in d if "romance" not in items[x["itemId"]]["GENRES"].split("|") or x["itemId"] in seen]
print("ok" if d and not bad else bad)' "$TMP/out" "$CSV" $U >"$TMP/chk"
check_eq "  every item is romance and new to the user" ok "$(cat "$TMP/chk")"

check "an EXCLUDE parameter left out is ignored" "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U -n 500 \
    --filter 'EXCLUDE ItemID WHERE Items.GENRES IN ($G)'
check_eq "  same list as unfiltered" "$(tr -d ' \n' <"$TMP/all.json")" "$(tr -d ' \n' <"$TMP/out")"

check "related items from the same creator (CurrentItem)" "$SAVOR" recommend --data-dir "$D" -v "$VS" \
    -i work-00007 -n 10 --filter 'INCLUDE ItemID WHERE Items.CREATOR_ID IN CurrentItem.CREATOR_ID'
verify "  all by work-00007's creator" creator-of "$TMP/out" work-00007

check "rank leaves filtered items out" "$SAVOR" rank --data-dir "$D" -v "$V" -u $U \
    --filter 'INCLUDE ItemID WHERE Items.GENRES IN ("romance")' work-00001 work-00002 nope
"$PY" -c '
import csv, json, sys
d = [x["itemId"] for x in json.load(open(sys.argv[1]))["personalizedRanking"]]
items = {r["ITEM_ID"]: r for r in csv.DictReader(open(sys.argv[2] + "/items.csv"))}
want = {i for i in ("work-00001", "work-00002") if "romance" in items[i]["GENRES"].split("|")}
print("ok" if set(d) == want else (d, want))' "$TMP/out" "$CSV" >"$TMP/chk"
check_eq "  only romance works remain (the unknown item too is out)" ok "$(cat "$TMP/chk")"

check_fails "a bad operator, with its column" \
    "savor: error: filter expression, column 35: expected IN, NOT IN, =, <, <=, > or >=, found 'LIKE'" \
    "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U --filter 'INCLUDE ItemID WHERE Items.GENRES LIKE ("x")'
check_fails "an unknown field, with the fields there are" \
    "Items has no field 'GENRE' (its fields: ITEM_ID, GENRES, CREATOR_ID, FORMAT, CREATION_TIMESTAMP)" \
    "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U --filter 'INCLUDE ItemID WHERE Items.GENRE IN ("x")'
check_fails "a type mismatch" "Items.CREATION_TIMESTAMP is a numeric field, found the string \"yesterday\"" \
    "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U --filter 'INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP > "yesterday"'
check_fails "an INCLUDE parameter left out" "filter parameter \$G has no value in filterValues" \
    "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U --filter 'INCLUDE ItemID WHERE Items.GENRES IN ($G)'
check_fails "filter values that are not quoted" "filterValues.G: expected comma-separated values" \
    "$SAVOR" recommend --data-dir "$D" -v "$V" -u $U --filter 'INCLUDE ItemID WHERE Items.GENRES IN ($G)' \
    --filter-values '{"G": "romance"}'
"$SAVOR" recommend --data-dir "$D" -v "$V" -u $U --filter-values '{}' >/dev/null 2>"$TMP/err"
check_eq "--filter-values without --filter is a usage error (exit 2)" 2 $?
finish
