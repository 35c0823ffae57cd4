#!/bin/sh
# t0850-batch: savor batch on the demo data: one output line per request in
# input order, bad lines get an error (not a failed job), answers equal
# savor recommend/rank, per-line filter values, the same output for any
# thread count, related items and ranking, and clean failures.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

D=$(new_data_dir)
check "savor demo (small)" "$SAVOR" demo --no-serve --data-dir "$D" --users 300 --items 100 --creators 20 --events 8000
V=$(sed -n 's/.*--solution-version \([^ ]*demo-user-personalization[^ ]*\) .*/\1/p' "$TMP/out")
VS=$(sed -n 's/.*--solution-version \([^ ]*demo-sims[^ ]*\) .*/\1/p' "$TMP/out")
CSV=$D/demo-csv

# 300 users, then bad lines among good ones.
"$PY" -c '
import json
for i in range(1, 301): print(json.dumps({"userId": "user-%05d" % i}))
print("not json")
print("")
print(json.dumps({"userId": 42}))
print(json.dumps(["userId"]))
print(json.dumps({"itemId": "work-00001"}))
print(json.dumps({"userId": "someone-new"}))' >"$TMP/in.jsonl"

check "batch with good and bad lines" "$SAVOR" batch --data-dir "$D" -v "$V" -i "$TMP/in.jsonl" -o "$TMP/out.jsonl"
check_contains "it reports lines and errors" "batch: 305 lines (4 with errors)" "$TMP/err"
"$PY" - "$TMP/in.jsonl" "$TMP/out.jsonl" >"$TMP/chk" 2>&1 <<'PYEOF'
import json, sys
ins = [l for l in open(sys.argv[1]).read().split("\n") if l.strip()]
outs = [json.loads(l) for l in open(sys.argv[2])]
assert len(outs) == len(ins) == 305, (len(outs), len(ins))
for raw, o in zip(ins, outs):
    try:
        want = json.loads(raw)
    except ValueError:
        want = raw
    assert o["input"] == want, (o["input"], want)          # input order, echoed
    assert set(o) == {"input", "output", "error"}
errs = [o for o in outs if o["error"]]
assert len(errs) == 4 and all(o["output"] is None for o in errs), errs
assert errs[0]["error"].startswith("not JSON"), errs[0]
assert "userId: expected a string" in errs[1]["error"], errs[1]
assert errs[2]["error"] == "expected a JSON object", errs[2]
assert "needs \"userId\"" in errs[3]["error"], errs[3]
good = [o for o in outs if not o["error"]]
assert all(len(o["output"]["recommendedItems"]) == 25 == len(o["output"]["scores"]) for o in good)
print("ok")
PYEOF
check_eq "one line per request, in order, bad ones with an error" ok "$(cat "$TMP/chk")"

check "recommend for user-00042" "$SAVOR" recommend --data-dir "$D" -v "$V" -u user-00042
"$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))["itemList"]
b = [json.loads(l) for l in open(sys.argv[2])][41]["output"]
ok = [x["itemId"] for x in r] == b["recommendedItems"] and all(abs(x["score"] - s) < 1e-5 for x, s in zip(r, b["scores"]))
print("ok" if ok else (r, b))' "$TMP/out" "$TMP/out.jsonl" >"$TMP/chk"
check_eq "a batch answer is savor recommend's answer" ok "$(cat "$TMP/chk")"

# 3,050 lines: several chunks of work, so threads really share them.
for k in 1 2 3 4 5 6 7 8 9 10; do cat "$TMP/in.jsonl"; done >"$TMP/big.jsonl"
check "1 thread" "$SAVOR" batch --data-dir "$D" -v "$V" -i "$TMP/big.jsonl" -o "$TMP/t1.jsonl" --threads 1
check "3 threads" "$SAVOR" batch --data-dir "$D" -v "$V" -i "$TMP/big.jsonl" -o "$TMP/t3.jsonl" --threads 3
check_contains "  3,050 lines" "batch: 3050 lines (40 with errors)" "$TMP/err"
check_eq "the output does not depend on the thread count" "$(cksum <"$TMP/t1.jsonl")" "$(cksum <"$TMP/t3.jsonl")"
"$PY" -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])] * 10
b = [json.loads(l) for l in open(sys.argv[2])]
key = lambda o: (o["input"], (o["output"] or {}).get("recommendedItems"), o["error"])
print("ok" if list(map(key, a)) == list(map(key, b)) else "differs")' "$TMP/out.jsonl" "$TMP/t3.jsonl" >"$TMP/chk"
check_eq "and is the input's answers, in order" ok "$(cat "$TMP/chk")"

# Per-line filter values, with a default for lines without their own.
printf '%s\n' '{"userId": "user-00001", "filterValues": {"G": "\"romance\""}}' \
    '{"userId": "user-00002"}' '{"userId": "user-00003", "filterValues": {"G": "romance"}}' >"$TMP/f.jsonl"
check "batch with a filter and per-line values" "$SAVOR" batch --data-dir "$D" -v "$V" -i "file://$TMP/f.jsonl" \
    -o "file://$TMP/f.out" -n 5 --filter 'INCLUDE ItemID WHERE Items.GENRES IN ($G)' --filter-values '{"G": "\"action\""}'
"$PY" - "$TMP/f.out" "$CSV" >"$TMP/chk" 2>&1 <<'PYEOF'
import csv, json, sys
outs = [json.loads(l) for l in open(sys.argv[1])]
items = {r["ITEM_ID"]: r["GENRES"].split("|") for r in csv.DictReader(open(sys.argv[2] + "/items.csv"))}
assert all("romance" in items[i] for i in outs[0]["output"]["recommendedItems"]), outs[0]
assert all("action" in items[i] for i in outs[1]["output"]["recommendedItems"]), outs[1]
assert len(outs[0]["output"]["recommendedItems"]) == 5
assert outs[2]["output"] is None and "filterValues.G" in outs[2]["error"], outs[2]
print("ok")
PYEOF
check_eq "each line filtered with its own values (or the default)" ok "$(cat "$TMP/chk")"

# Related items and ranking.
printf '%s\n' '{"itemId": "work-00007"}' '{"userId": "user-00001"}' >"$TMP/rel.jsonl"
mkdir "$TMP/outdir"
check "related items into a directory" "$SAVOR" batch --data-dir "$D" -v "$VS" -i "$TMP/rel.jsonl" -o "$TMP/outdir" -n 3
check_eq "the file is named after the input" "rel.jsonl.out" "$(ls "$TMP/outdir")"
"$PY" -c '
import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
print("ok" if len(o[0]["output"]["recommendedItems"]) == 3 and "needs \"itemId\"" in o[1]["error"] else o)' \
    "$TMP/outdir/rel.jsonl.out" >"$TMP/chk"
check_eq "related items per itemId; a line without one is an error" ok "$(cat "$TMP/chk")"

check "train personalized-ranking" "$SAVOR" train --data-dir "$D" -g demo -r aws-personalized-ranking
VR=$(cat "$TMP/out")
printf '%s\n' '{"userId": "user-00042", "itemList": ["work-00003", "nope", "work-00001", "work-00002"]}' \
    '{"userId": "user-00042"}' >"$TMP/rank.jsonl"
check "batch ranking" "$SAVOR" batch --data-dir "$D" -v "$VR" -i "$TMP/rank.jsonl" -o "$TMP/rank.out"
check "rank the same items" "$SAVOR" rank --data-dir "$D" -v "$VR" -u user-00042 work-00003 nope work-00001 work-00002
"$PY" -c '
import json, sys
r = [x["itemId"] for x in json.load(open(sys.argv[1]))["personalizedRanking"]]
o = [json.loads(l) for l in open(sys.argv[2])]
ok = o[0]["output"]["recommendedItems"] == r and r[-1] == "nope" and o[0]["output"]["scores"][-1] is None
ok = ok and "itemList" in o[1]["error"]
print("ok" if ok else (r, o))' "$TMP/out" "$TMP/rank.out" >"$TMP/chk"
check_eq "batch ranking is savor rank's order; unknown items last without a score" ok "$(cat "$TMP/chk")"

check_fails "a missing input" "No such file or directory" \
    "$SAVOR" batch --data-dir "$D" -v "$V" -i "$TMP/nope.jsonl" -o "$TMP/x.out"
check_fails "s3:// is not supported" "savor reads and writes local paths and file:// URIs only" \
    "$SAVOR" batch --data-dir "$D" -v "$V" -i "s3://bucket/in.jsonl" -o "$TMP/x.out"
check_fails "a bad filter fails the job before it starts" "column 22: Items has no field 'NOPE'" \
    "$SAVOR" batch --data-dir "$D" -v "$V" -i "$TMP/in.jsonl" -o "$TMP/x.out" --filter 'INCLUDE ItemID WHERE Items.NOPE IN ("x")'
check_fails "an unknown version" "does not exist" \
    "$SAVOR" batch --data-dir "$D" -v "${V}x" -i "$TMP/in.jsonl" -o "$TMP/x.out"
check_eq "failed jobs leave no output and no temporary file" "" "$(ls "$TMP" | grep '^x\.out')"
finish
