#!/bin/sh
# savor train / recommend / rank end to end: the brief's example, cold users,
# related items, ranking, determinism, bad input and a corrupt model file.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# items "ITEM ..." from a recommend/rank JSON on stdin
ids() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(x["itemId"] for x in d.get("itemList", d.get("personalizedRanking", []))))'; }

D=$(new_data_dir)
# The brief: user 1 has item 1 (values 10, 20), item 2 (three times 20), item 3 (10);
# item 4 is in the catalog only. Another user gives the model something to learn from.
cat >"$TMP/blog.csv" <<'CSV'
USER_ID,ITEM_ID,EVENT_VALUE,TIMESTAMP
1,1,10,1700000000
1,2,20,1700000001
1,2,20,1700000002
1,2,20,1700000003
1,1,20,1700000004
1,3,10,1700000005
CSV
printf 'ITEM_ID,GENRE\n4,x\n' >"$TMP/items.csv"
check "import the brief's interactions" "$SAVOR" import --data-dir "$D" -g blog -t interactions "$TMP/blog.csv"
check "import an item that has no interactions" "$SAVOR" import --data-dir "$D" -g blog -t items "$TMP/items.csv"

check "train user-personalization" "$SAVOR" train --data-dir "$D" -g blog -r aws-user-personalization
V=$(cat "$TMP/out")
case "$V" in
arn:aws:personalize:*:solution/blog-user-personalization/*) _ok "train prints the version ARN" ;;
*) _not_ok "train prints the version ARN" "got: $V" ;;
esac
check "recommend for user 1" "$SAVOR" recommend --data-dir "$D" -v "$V" -u 1
check_eq "user 1: item 2, then item 1, then item 3 (item 4 never)" "2 1 3" "$(ids <"$TMP/out")"
check_eq "by clearly separated scores, not by a tie-break" ok \
    "$("$PY" -c 'import json,sys; s=[x["score"] for x in json.load(open(sys.argv[1]))["itemList"]]; print("ok" if s[0]-s[1] > 1e-3 and s[1]-s[2] > 1e-3 else s)' "$TMP/out")"
check "recommend for an unknown user" "$SAVOR" recommend --data-dir "$D" -v "$V" -u stranger
check_eq "an unknown user gets popular items, by weighted count" "2 1 3" "$(ids <"$TMP/out")"
check_contains "marked as popular" '"Popular item"' "$TMP/out"
check "recommend with explanations" "$SAVOR" recommend --data-dir "$D" -v "$V" -u 1 --explain
check_contains "explanations name history items and shares" '"share"' "$TMP/out"
check "rank for user 1" "$SAVOR" rank --data-dir "$D" -v "$V" -u 1 3 nope 1 2
check_eq "ranked by the model; unknown items last" "2 1 3 nope" "$(ids <"$TMP/out")"
check_eq "an unknown item has no score" 1 \
    "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for x in d["personalizedRanking"] if "score" not in x))' "$TMP/out")"

# Exploration: item 4, created just now and never interacted with, is offered only when
# asked for (explorationWeight > 0), marked as such; weight 0 never shows it.
D2=$(new_data_dir)
printf 'ITEM_ID,GENRE,CREATION_TIMESTAMP\n1,x,1690000000\n2,x,1690000000\n3,x,1690000000\n4,x,1700000004\n' >"$TMP/items4.csv"
check "import the catalog with creation times" "$SAVOR" import --data-dir "$D2" -g blog -t items "$TMP/items4.csv"
check "import the interactions" "$SAVOR" import --data-dir "$D2" -g blog -t interactions "$TMP/blog.csv"
check "train" "$SAVOR" train --data-dir "$D2" -g blog -r aws-user-personalization
V2=$(cat "$TMP/out")
check "explorationWeight 0" "$SAVOR" recommend --data-dir "$D2" -v "$V2" -u 1 --exploration-weight 0
check_eq "weight 0: only items with interactions" "2 1 3" "$(ids <"$TMP/out")"
check "explorationWeight 1" "$SAVOR" recommend --data-dir "$D2" -v "$V2" -u 1 -n 4 --exploration-weight 1
check_eq "weight 1, 4 results: 2 slots, only item 4 qualifies" "2 1 4 3" "$(ids <"$TMP/out")"
check_contains "the explored item is marked" '"Exploration"' "$TMP/out"
check "an age cut-off that excludes it" "$SAVOR" recommend --data-dir "$D2" -v "$V2" -u 1 -n 4 \
    --exploration-weight 1 --exploration-item-age-cut-off 0.00001
check_eq "too old for the cut-off: no exploration" "2 1 3" "$(ids <"$TMP/out")"
check_fails "a weight above 1" "--exploration-weight '1.5': expected a number from 0 to 1" \
    "$SAVOR" recommend --data-dir "$D2" -v "$V2" -u 1 --exploration-weight 1.5

# Trending: with 1-hour windows before the newest event (t = 1700100000), "rising" goes
# from 1 to 5 events, "steady" stays at 3 and 3, and "old" had 30 events days ago.
T=1700100000
{
    echo "USER_ID,ITEM_ID,TIMESTAMP"
    for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
        echo "o$k,old,$((T - 500000 + k))"
    done
    echo "r0,rising,$((T - 5000))"
    for k in 1 2 3 4 5; do echo "r$k,rising,$((T - 100 * k))"; done
    for k in 1 2 3; do echo "s$k,steady,$((T - 5000 - k))"; echo "t$k,steady,$((T - 200 - k))"; done
    echo "z,old,$T"
} >"$TMP/trend.csv"
check "import trend data" "$SAVOR" import --data-dir "$D" -g trend -t interactions "$TMP/trend.csv"
check "train trending-now (1 hour)" "$SAVOR" train --data-dir "$D" -g trend -r aws-trending-now \
    -p trend_discovery_frequency="1 hour"
TV=$(cat "$TMP/out")
check "recommend trending" "$SAVOR" recommend --data-dir "$D" -v "$TV" -u anyone -n 3
check_eq "the rising item first, then popular items" "rising old steady" "$(ids <"$TMP/out")"
check_fails "an unknown discovery window" "trend_discovery_frequency: '2 weeks' is not one of" \
    "$SAVOR" train --data-dir "$D" -g trend -r aws-trending-now -p trend_discovery_frequency="2 weeks"

# Demo data: every recipe trains; related items; determinism.
check "demo data" "$SAVOR" demo --no-serve --data-dir "$D" --users 300 --items 120 --creators 20 --events 6000
for r in aws-popularity-count aws-sims aws-user-personalization aws-personalized-ranking aws-trending-now aws-similar-items; do
    check "train $r on the demo" "$SAVOR" train --data-dir "$D" -g demo -r "$r"
done
check "train sims again" "$SAVOR" train --data-dir "$D" -g demo -r arn:aws:personalize:::recipe/aws-sims
S=$(cat "$TMP/out")
check "related items" "$SAVOR" recommend --data-dir "$D" -v "$S" -i work-00007 -n 10
check_eq "10 related items" 10 "$(ids <"$TMP/out" | wc -w)"
case " $(ids <"$TMP/out") " in
*" work-00007 "*) _not_ok "an item is not related to itself" ;;
*) _ok "an item is not related to itself" ;;
esac
check_fails "sims given a user" "give an item ID" "$SAVOR" recommend --data-dir "$D" -v "$S" -u user-00001

# similar-items: a work added to the catalog after the interactions, with no interactions at
# all, still gets neighbours from its metadata; its closest is the work that shares all of it.
printf 'ITEM_ID,GENRES,CREATOR_ID,FORMAT,CREATION_TIMESTAMP\nwork-new,romance|drama,creator-003,webtoon,1767225600\n' >"$TMP/new.csv"
twin=$(grep -m1 ',romance|drama,creator-003,webtoon,' "$D/demo-csv/items.csv" | cut -d, -f1)
check "a new work, metadata only" "$SAVOR" import --data-dir "$D" -g demo -t items -m INCREMENTAL "$TMP/new.csv"
check "train similar-items" "$SAVOR" train --data-dir "$D" -g demo -r aws-similar-items
SI=$(cat "$TMP/out")
check "related to the new work" "$SAVOR" recommend --data-dir "$D" -v "$SI" -i work-new -n 5
if [ -n "$twin" ]; then
    check_eq "the work with the same genres, creator and format comes first" "$twin" \
        "$(ids <"$TMP/out" | cut -d' ' -f1)"
else
    check_eq "five neighbours from metadata" 5 "$(ids <"$TMP/out" | wc -w)"
fi
check_fails "metadata_weight above 1" "hyperparameter metadata_weight: 2 is above the maximum 1" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-similar-items -p metadata_weight=2

check "train twice with the same seed (1)" "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization --threads 2 -s det1
A=$(cat "$TMP/out")
check "explain on the demo" "$SAVOR" recommend --data-dir "$D" -v "$A" -u user-00003 -n 5 --explain
check_eq "explanations give the event types behind each history item" ok \
    "$("$PY" -c '
import json, sys
items = json.load(open(sys.argv[1]))["itemList"]
types = [t for i in items for x in i.get("explanation", []) for t in x["eventTypes"]]
ok = types and set(types) <= {"view", "like", "subscribe"} and all(x["eventTypes"] for i in items for x in i.get("explanation", []))
print("ok" if ok else types)' "$TMP/out")"
check "train twice with the same seed (2)" "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization --threads 2 -s det2
B=$(cat "$TMP/out")
"$SAVOR" recommend --data-dir "$D" -v "$A" -u user-00003 -n 20 >"$TMP/a.json"
"$SAVOR" recommend --data-dir "$D" -v "$B" -u user-00003 -n 20 >"$TMP/b.json"
check "same data, settings and seed: identical recommendations and scores" cmp "$TMP/a.json" "$TMP/b.json"

# Events recorded after training change the next answer, without retraining:
# a brand-new user with three likes gets those works' neighbourhood, not popular items.
check "a new user before any event" "$SAVOR" recommend --data-dir "$D" -v "$A" -u newbie -n 5
check_contains "gets popular items" '"Popular item"' "$TMP/out"
printf 'USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\nnewbie,work-00003,like,1,1767225600\nnewbie,work-00004,like,1,1767225601\nnewbie,work-00005,like,1,1767225602\n' >"$TMP/ev.csv"
check "record the new user's events" "$SAVOR" import --data-dir "$D" -g demo -t interactions -m INCREMENTAL "$TMP/ev.csv"
check "the same version, asked again" "$SAVOR" recommend --data-dir "$D" -v "$A" -u newbie -n 5 --explain
if grep -q '"Popular item"' "$TMP/out"; then
    _not_ok "the new user's events are folded in: no more popular fallback" "$(head -c 600 "$TMP/out")"
else
    _ok "the new user's events are folded in: no more popular fallback"
fi
check_contains "explanations cite the new events" '"itemId": "work-0000' "$TMP/out"

# After a FULL re-import the rows replace what the model learned from: they are not new events.
"$SAVOR" recommend --data-dir "$D" -v "$A" -u user-00003 -n 20 >"$TMP/before.json"
cp "$D/demo-csv/interactions.csv" "$TMP/again.csv"
check "a FULL re-import of the same interactions" "$SAVOR" import --data-dir "$D" -g demo -t interactions "$TMP/again.csv"
"$SAVOR" recommend --data-dir "$D" -v "$A" -u user-00003 -n 20 >"$TMP/after.json"
check "answers unchanged: the re-imported rows are not folded in twice" cmp "$TMP/after.json" "$TMP/before.json"

# trainingMode UPDATE: a new work with new likes becomes known without a full retrain.
check "a FULL version to update" "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s upd
U0=$(cat "$TMP/out")
printf 'ITEM_ID,GENRES,CREATOR_ID,FORMAT,CREATION_TIMESTAMP\nwork-hot,romance,creator-003,webtoon,1767225600\n' >"$TMP/hot.csv"
{
    echo "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP"
    for u in 1 2 3 4 5 6 7 8 9; do echo "user-0000$u,work-hot,like,1,176722560$u"; done
} >"$TMP/hotev.csv"
check "the new work" "$SAVOR" import --data-dir "$D" -g demo -t items -m INCREMENTAL "$TMP/hot.csv"
check "its first likes" "$SAVOR" import --data-dir "$D" -g demo -t interactions -m INCREMENTAL "$TMP/hotev.csv"
check "the FULL version ranks it" "$SAVOR" rank --data-dir "$D" -v "$U0" -u user-00004 work-hot work-00001
check_eq "the FULL version does not know it: last, without a score" "work-hot:-" \
    "$("$PY" -c 'import json,sys; x=json.load(open(sys.argv[1]))["personalizedRanking"][-1]; print(x["itemId"] + ":" + str(x.get("score", "-")))' "$TMP/out")"
check "train UPDATE" "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s upd --training-mode UPDATE
U1=$(cat "$TMP/out")
check "the UPDATE version ranks it" "$SAVOR" rank --data-dir "$D" -v "$U1" -u user-00004 work-hot work-00001
check_eq "the UPDATE version knows it: both items scored" 2 \
    "$("$PY" -c 'import json,sys; print(sum(1 for x in json.load(open(sys.argv[1]))["personalizedRanking"] if "score" in x))' "$TMP/out")"
"$SAVOR" describe --data-dir "$D" -g demo >"$TMP/d.json"
check_eq "describe: the version's trainingMode is UPDATE" UPDATE \
    "$("$PY" -c 'import json,sys; g=json.load(open(sys.argv[1]))["datasetGroups"][0]; print([s for s in g["solutions"] if s["name"]=="upd"][0]["solutionVersions"][-1]["trainingMode"])' "$TMP/d.json")"
check_fails "UPDATE of a recipe that cannot" "recipe aws-popularity-count does not support it" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-popularity-count --training-mode UPDATE
check_fails "UPDATE without a FULL version" "solution nothing-yet does not exist yet; train FULL first" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s nothing-yet --training-mode UPDATE

# Bad input: clear errors, exit 1 (or 2 for usage).
check_fails "unknown recipe" "recipe 'aws-nope' is unknown" "$SAVOR" train --data-dir "$D" -g demo -r aws-nope
check_fails "unknown hyperparameter" "hyperparameter colour is not one this recipe takes" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -p colour=red
check_fails "hyperparameter out of range" "hyperparameter factors: 0 is below the minimum 1" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -p hidden_dimension=0
check_fails "eventType that never occurs" "eventType 'purchase' does not occur" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-popularity-count -p eventType=purchase
check_fails "missing dataset group" "dataset group nosuch does not exist" \
    "$SAVOR" train --data-dir "$D" -g nosuch -r aws-popularity-count
check_fails "unknown solution version" "does not exist" \
    "$SAVOR" recommend --data-dir "$D" -v arn:aws:personalize:us-east-1:000000000000:solution/x/00000000 -u 1
check_fails "num-results above 500" "expected a whole number up to 500" \
    "$SAVOR" recommend --data-dir "$D" -v "$V" -u 1 -n 501

# A training that fails leaves its version CREATE FAILED with the reason, as Personalize does.
check_fails "a threshold no event reaches" "no interactions to train on" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-popularity-count -s empty -p eventValueThreshold=1000000
"$SAVOR" describe --data-dir "$D" -g demo >"$TMP/d.json"
check_eq "describe: the failed version is CREATE FAILED with its reason" "CREATE FAILED no interactions to train on" \
    "$("$PY" -c 'import json,sys; g=json.load(open(sys.argv[1]))["datasetGroups"][0]; v=[s for s in g["solutions"] if s["name"]=="empty"][0]["solutionVersions"][0]; print(v["status"], v["failureReason"][:27])' "$TMP/d.json")"
check_eq "describe: the sims solution has its recipe ARN" "arn:aws:personalize:::recipe/aws-sims" \
    "$("$PY" -c 'import json,sys; g=json.load(open(sys.argv[1]))["datasetGroups"][0]; print([s for s in g["solutions"] if s["name"]=="demo-sims"][0]["recipeArn"])' "$TMP/d.json")"

# Cancelling (Ctrl-C) ends the version CREATE FAILED; so does a killed trainer, once noticed.
"$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s cancelled \
    -p model=als -p iterations=1000 -p factors=128 >"$TMP/c.out" 2>"$TMP/c.err" &
pid=$!
sleep 0.5
kill -INT "$pid"
wait "$pid"
check_eq "SIGINT stops training with exit 1" 1 "$?"
check_contains "and says it was cancelled" "training cancelled" "$TMP/c.err"
"$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s killed \
    -p model=als -p iterations=1000 -p factors=128 >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null
"$SAVOR" describe --data-dir "$D" -g demo >"$TMP/d.json"
check_eq "describe: cancelled and killed versions are CREATE FAILED, none stuck in progress" \
    "cancelled CREATE FAILED|killed CREATE FAILED interrupted" \
    "$("$PY" -c '
import json, sys
g = json.load(open(sys.argv[1]))["datasetGroups"][0]
out = []
for s in g["solutions"]:
    if s["name"] in ("cancelled", "killed"):
        v = s["solutionVersions"][0]
        out.append(s["name"] + " " + v["status"] + (" interrupted" if "interrupted" in v.get("failureReason", "") else ""))
print("|".join(out))' "$TMP/d.json")"

# A corrupt model file is a clear error, not a crash.
M=$(ls "$D"/models/blog-user-personalization/*.model | head -n 1)
"$PY" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xFF; open(p,"wb").write(b)' "$M"
check_fails "a corrupted model file" "$(basename "$M")" "$SAVOR" recommend --data-dir "$D" -v "$V" -u 1
head -c 100 "$M" >"$TMP/t" && cp "$TMP/t" "$M"
check_fails "a truncated model file" "truncated" "$SAVOR" recommend --data-dir "$D" -v "$V" -u 1
finish
