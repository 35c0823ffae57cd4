#!/bin/sh
# t0700-eval: offline metrics at training time (stored and shown), savor eval's
# table / JSON / SVG, the C metrics against bench/quality's Python on the same
# recommendations, HPO and AutoML from the CLI, and their bad input.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
D=$(new_data_dir)
check "demo data" "$SAVOR" demo --no-serve --data-dir "$D" --users 600 --items 150 --creators 20 --events 12000

# version JSON of solution $1 (its latest version), from describe
version() {
    "$SAVOR" describe --data-dir "$D" -g "${2:-demo}" >"$TMP/d.json" &&
        "$PY" -c 'import json,sys
g = json.load(open(sys.argv[1]))["datasetGroups"][0]
s = [s for s in g["solutions"] if s["name"] == sys.argv[2]]
print(json.dumps(s[0]["solutionVersions"][-1] if s else {}))' "$TMP/d.json" "$1"
}

# --- Metrics at training time -------------------------------------------------
check "train user-personalization" "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s up
check_contains "train prints the metrics on stderr" "normalized_discounted_cumulative_gain_at_10" "$TMP/err"
check_eq "stdout is only the ARN" 1 "$(wc -l <"$TMP/out" | tr -d ' ')"
version up >"$TMP/v.json"
check_eq "describe: every metric, each in [0, 1], 10% of the users tested" ok "$("$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
names = ["coverage", "mean_reciprocal_rank_at_25", "normalized_discounted_cumulative_gain_at_5",
         "normalized_discounted_cumulative_gain_at_10", "normalized_discounted_cumulative_gain_at_25",
         "precision_at_5", "precision_at_10", "precision_at_25", "recall_at_10", "recall_at_25"]
m, ev = v.get("metrics", {}), v.get("evaluation", {})
bad = [n for n in names if not 0 <= m.get(n, -1) <= 1]
if bad: print("bad metrics", bad, m)
elif ev.get("testUsers") != ev.get("eligibleUsers") // 10: print("test users", ev)
elif m["precision_at_10"] <= 0: print("no hit at all", m)
else: print("ok")' "$TMP/v.json")"

check "train with evaluation=off" "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s off -p evaluation=off
version off >"$TMP/v.json"
check_eq "evaluation=off: no metrics, and a note saying so" "None not evaluated: evaluation=off" \
    "$("$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])); print(v.get("metrics"), v.get("metricsNote"))' "$TMP/v.json")"

# The final model trains on all the data either way: evaluation changes no answer.
UP=$(version up | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["solutionVersionArn"])')
OFF=$(version off | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["solutionVersionArn"])')
"$SAVOR" recommend --data-dir "$D" -v "$UP" -u user-00042 -n 25 >"$TMP/r1" 2>&1
"$SAVOR" recommend --data-dir "$D" -v "$OFF" -u user-00042 -n 25 >"$TMP/r2" 2>&1
check_contains "the evaluated version recommends" '"itemId"' "$TMP/r1"
check_eq "the same recommendations with evaluation on and off" "" "$(cmp "$TMP/r1" "$TMP/r2" 2>&1)"

check "train with a time split" "$SAVOR" train --data-dir "$D" -g demo -r aws-popularity-count -s timed -p evaluationSplit=time
version timed >"$TMP/v.json"
check_eq "time split: recorded with its cutoff, metrics present" "time True True" \
    "$("$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])); e=v["evaluation"]; print(e["split"], "cutoff" in e, "precision_at_10" in v["metrics"])' "$TMP/v.json")"

check "train related items (sims: scored from the last input item)" "$SAVOR" train --data-dir "$D" -g demo -r aws-sims -s sims
version sims >"$TMP/v.json"
check_eq "sims has metrics" True "$("$PY" -c 'import json,sys; print("coverage" in json.load(open(sys.argv[1])).get("metrics", {}))' "$TMP/v.json")"

# The brief's table: one user is too few to evaluate; the version still trains.
B=$(new_data_dir)
printf 'USER_ID,ITEM_ID,EVENT_VALUE,TIMESTAMP\n1,1,10,1\n1,2,20,2\n1,2,20,3\n1,2,20,4\n1,1,20,5\n1,3,10,6\n' >"$TMP/blog.csv"
check "import the brief's table" "$SAVOR" import --data-dir "$B" -g blog -t interactions "$TMP/blog.csv"
check "train on one user" "$SAVOR" train --data-dir "$B" -g blog -r aws-user-personalization
check_contains "too little data: the metrics say why they are missing" "metrics: not evaluated" "$TMP/err"
check_fails "HPO on too little data: the validation split says why" "performHPO: validation split" \
    "$SAVOR" train --data-dir "$B" -g blog -r aws-user-personalization -s blog-hpo -p performHPO=true \
    --hpo-config '{"algorithmHyperParameterRanges":{"integerHyperParameterRanges":[{"name":"factors","minValue":2,"maxValue":8}]}}'

# --- savor eval ------------------------------------------------------------------
check "savor eval: two recipes, a config, two seeds" "$SAVOR" eval --data-dir "$D" -g demo \
    -r aws-user-personalization -r aws-popularity-count -c "f16:factors=16" --seeds 2 \
    --json "$TMP/e.json" --svg "$TMP/e.svg" --dump-recs "$TMP/dump"
cp "$TMP/out" "$TMP/table"
check_contains "the table has NDCG@10 with a spread" "NDCG@10" "$TMP/table"
check_contains "the table names each configuration" "f16" "$TMP/table"
check_eq "the table: mean ± sd for 3 configurations on 10 rows" 30 "$(grep -o '±' "$TMP/table" | wc -l | tr -d ' ')"
check_eq "JSON: 3 configurations x 2 seeds, means match the per-seed values" ok "$("$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
cs = j["configurations"]
assert [c["label"] for c in cs] == ["aws-user-personalization", "aws-popularity-count", "f16"], cs
for c in cs:
    assert len(c["perSeed"]) == 2
    for m, v in c["mean"].items():
        mean = sum(p["metrics"][m] for p in c["perSeed"]) / 2
        assert abs(mean - v) < 2e-6, (m, mean, v)
assert cs[2]["algorithmHyperParameters"]["factors"] == "16"
print("ok")' "$TMP/e.json")"
check_eq "SVG: well-formed XML with 18 bars, axes and a legend" ok "$("$PY" -c '
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("s:title", ns) is not None]
texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
assert len(bars) == 18, len(bars)          # 3 configurations x K=5,10,25 x 2 panels
assert "NDCG@K" in texts and "precision@K" in texts, texts
assert "f16" in texts and "aws-popularity-count" in texts
assert any(t.startswith("K (") for t in texts)
print("ok")' "$TMP/e.svg")"

# The C metrics agree with bench/quality's Python definitions on the same lists.
check_eq "C metrics = bench/quality_bench.py's on the dumped recommendations" ok "$("$PY" -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import quality_bench as qb
j = json.load(open(sys.argv[2]))
names = {"P@5": "precision_at_5", "P@10": "precision_at_10", "P@25": "precision_at_25",
         "R@10": "recall_at_10", "R@25": "recall_at_25", "NDCG@5": "normalized_discounted_cumulative_gain_at_5",
         "NDCG@10": "normalized_discounted_cumulative_gain_at_10",
         "NDCG@25": "normalized_discounted_cumulative_gain_at_25",
         "MRR@25": "mean_reciprocal_rank_at_25", "coverage": "coverage"}
for c in j["configurations"]:
    for p in c["perSeed"]:
        rows = [json.loads(l) for l in open("%s/%s-seed%d.jsonl" % (sys.argv[3], c["label"], p["seed"]))]
        recs = {r["userId"]: r["recommended"] for r in rows}
        held = {r["userId"]: set(r["targets"]) for r in rows}
        for r in rows:
            assert not set(r["recommended"]) & set(r["input"]), "an input item was recommended"
            assert len(r["targets"]) >= 1 and len(r["recommended"]) <= 25
        py = qb.evaluate(recs, held, p["catalogItems"])
        for k, n in names.items():
            assert abs(py[k] - p["metrics"][n]) < 2e-6, (c["label"], k, py[k], p["metrics"][n])
print("ok")' "$ROOT/bench" "$TMP/e.json" "$TMP/dump")"

# Deterministic: the same metrics whatever the number of threads.
check "eval on 1 thread" "$SAVOR" eval --data-dir "$D" -g demo -r aws-user-personalization --seeds 1 --threads 1 --json "$TMP/t1.json"
check "eval on 2 threads" "$SAVOR" eval --data-dir "$D" -g demo -r aws-user-personalization --seeds 1 --threads 2 --json "$TMP/t2.json"
check_eq "1 and 2 threads give the same metrics" same "$("$PY" -c '
import json, sys
a, b = (json.load(open(f))["configurations"][0]["mean"] for f in sys.argv[1:3])
print("same" if a == b else "differ: %s %s" % (a, b))' "$TMP/t1.json" "$TMP/t2.json")"

check "savor eval with a time split" "$SAVOR" eval --data-dir "$D" -g demo -r aws-popularity-count --seeds 1 --split time --json "$TMP/t.json"
check_eq "time split: the cutoff is recorded" True "$("$PY" -c 'import json,sys; print("cutoff" in json.load(open(sys.argv[1]))["seeds"][0])' "$TMP/t.json")"
check_fails "eval: unknown recipe" "recipe 'aws-nope' is unknown" "$SAVOR" eval --data-dir "$D" -g demo -r aws-nope
check_fails "eval: a parameter no recipe takes" "none of the compared recipes takes it" \
    "$SAVOR" eval --data-dir "$D" -g demo -r aws-popularity-count -p factors=8
check_fails "eval: a bad config" "expected LABEL:KEY=VALUE" "$SAVOR" eval --data-dir "$D" -g demo -c nolabel
check_fails "eval: missing group" "does not exist" "$SAVOR" eval --data-dir "$D" -g nosuch

# --- HPO ---------------------------------------------------------------------------
cat >"$TMP/hpo.json" <<'JSON'
{"hpoObjective": {"type": "Maximize", "metricName": "precision_at_10"},
 "hpoResourceConfig": {"maxNumberOfTrainingJobs": "3", "maxParallelTrainingJobs": "1"},
 "algorithmHyperParameterRanges": {
   "integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 8, "maxValue": 64}],
   "continuousHyperParameterRanges": [{"name": "alpha", "minValue": 1, "maxValue": 40, "scalingType": "Logarithmic"}]}}
JSON
check "train with performHPO" "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s tuned \
    -p performHPO=true --hpo-config "$TMP/hpo.json"
check_contains "train says what HPO chose" "HPO chose" "$TMP/err"
version tuned >"$TMP/v.json"
check_eq "describe: 3 trials, the best one's values are the version's" ok "$("$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
t = v["hpoTrials"]
assert len(t) == 3 and v["performHPO"] is True, v
best = max(t, key=lambda x: x["objective"])
tuned = v["tunedHPOParams"]["algorithmHyperParameters"]
assert tuned["factors"] == best["algorithmHyperParameters"]["factors"], (tuned, best)
assert abs(float(tuned["alpha"]) - float(best["algorithmHyperParameters"]["alpha"])) < 1e-4
assert t[0]["algorithmHyperParameters"]["factors"] == "64"  # trial 1: the defaults
assert "metrics" in v and "validation" in v
print("ok")' "$TMP/v.json")"
check_fails "HPO: an unknown metric, before anything is created" "'ndcg' is not a metric" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -s badhpo -p performHPO=true \
    --hpo-config '{"hpoObjective":{"metricName":"ndcg"},"algorithmHyperParameterRanges":{"integerHyperParameterRanges":[{"name":"factors","minValue":8,"maxValue":64}]}}'
check_eq "no solution was created for it" "{}" "$(version badhpo)"
check_fails "HPO: an inverted range" "inverted" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -p performHPO=true \
    --hpo-config '{"algorithmHyperParameterRanges":{"continuousHyperParameterRanges":[{"name":"alpha","minValue":9,"maxValue":2}]}}'
check "HPO without ranges: the recipe's default ranges" "$SAVOR" train --data-dir "$D" -g demo \
    -r aws-user-personalization -s tuned-default -p performHPO=true \
    --hpo-config '{"hpoResourceConfig": {"maxNumberOfTrainingJobs": "2"}}'
check_eq "default ranges: 2 trials over both models' parameters and answer-time recency" \
    "2 alpha factors history_half_life history_recent_items l2 regularization" "$(version tuned-default | "$PY" -c '
import json, sys
v = json.load(sys.stdin)
print(len(v["hpoTrials"]), " ".join(sorted(v["hpoTrials"][1]["algorithmHyperParameters"])))')"
check_fails "HPO of a recipe without tunable hyperparameters" "has no default ranges" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-popularity-count -p performHPO=true
check_fails "a bad evaluationSplit" "evaluationSplit: 'weekly' is not users or time" \
    "$SAVOR" train --data-dir "$D" -g demo -r aws-user-personalization -p evaluationSplit=weekly

# --- AutoML ---------------------------------------------------------------------------
# Four taste groups of users, each on its own ten items: personalization is clearly better.
A=$(new_data_dir)
"$PY" -c '
import random
r = random.Random(3)
print("USER_ID,ITEM_ID,TIMESTAMP")
for k in range(15):
    for u in range(200):
        print("u%d,i%d,%d" % (u, (u % 4) * 10 + r.randrange(10), 1000 + k * 100 + u))' >"$TMP/taste.csv"
check "import taste groups" "$SAVOR" import --data-dir "$A" -g taste -t interactions "$TMP/taste.csv"
check "train with performAutoML" "$SAVOR" train --data-dir "$A" -g taste -p performAutoML=true \
    --automl-config '{"metricName": "precision_at_10", "recipeList": ["arn:aws:personalize:::recipe/aws-popularity-count", "aws-user-personalization"]}'
ARN=$(cat "$TMP/out")
"$SAVOR" describe --data-dir "$A" -g taste >"$TMP/d.json"
check_eq "AutoML picks user-personalization, records both trials" ok "$("$PY" -c '
import json, sys
g = json.load(open(sys.argv[1]))["datasetGroups"][0]
v = g["solutions"][0]["solutionVersions"][-1]
assert v["autoMLResult"]["bestRecipeArn"] == "arn:aws:personalize:::recipe/aws-user-personalization", v
t = {x["recipeArn"].rsplit("/", 1)[1]: x["objective"] for x in v["autoMLTrials"]}
assert t["aws-user-personalization"] > 2 * t["aws-popularity-count"], t
assert g["solutions"][0]["performAutoML"] is True and "recipeArn" not in g["solutions"][0]
print("ok")' "$TMP/d.json")"
check "the AutoML version recommends" "$SAVOR" recommend --data-dir "$A" -v "$ARN" -u u1 -n 3
check_fails "AutoML with --recipe too" "not a recipe" \
    "$SAVOR" train --data-dir "$A" -g taste -r aws-sims -p performAutoML=true
check_fails "AutoML: a related-items recipe" "recommends related items" \
    "$SAVOR" train --data-dir "$A" -g taste -p performAutoML=true --automl-config '{"recipeList": ["aws-sims"]}'

finish
