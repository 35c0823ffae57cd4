#!/usr/bin/python3
"""HPO and training-time evaluation of savor on MovieLens (issue 4's bar).

usage: /usr/bin/python3 bench/hpo_bench.py [--datasets ml-100k] [--jobs 12]
           [--data ../shared/data] [--savor build/savor] [--out bench/out/hpo]
           [--reps 3]

Per dataset:
 1. Convert with scripts/convert-movielens.py and import the interactions into
    a fresh data directory.
 2. Train aws-user-personalization with its defaults, and again with
    performHPO=true over the recipe's default ranges (random search,
    --jobs trials, objective NDCG@10 on a validation split cut from the
    training users only). Both versions report their metrics on the same test
    split (Personalize's protocol, seed 42), which HPO never reads.
 3. The cost of training-time evaluation: the same default training with
    evaluation=off and with it on, --reps times each, median wall times and
    their ratio (same run, same machine).
Prints a markdown snippet for bench/RESULTS.md; exit 3 if HPO ends worse than
the defaults on the test NDCG@10 of any dataset.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OBJ = "normalized_discounted_cumulative_gain_at_10"
SHOW = [("NDCG@10", OBJ), ("P@10", "precision_at_10"), ("NDCG@25",
        "normalized_discounted_cumulative_gain_at_25"), ("R@25", "recall_at_25"),
        ("coverage", "coverage")]
HPO = {
    "hpoObjective": {"type": "Maximize", "metricName": OBJ},
    "hpoResourceConfig": {"maxNumberOfTrainingJobs": "12", "maxParallelTrainingJobs": "1"},
    # No algorithmHyperParameterRanges: the recipe's default ranges (docs/evaluation.md),
    # which cover both models model=auto may pick and the answer-time recency.
}


def fmt(v):
    try:
        return "%.4g" % float(v)
    except (TypeError, ValueError):
        return str(v)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("failed (exit %d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                          p.stderr[-2000:]))
    return p.stdout


def version(savor, d, arn):
    g = json.loads(run([savor, "describe", "--data-dir", d]))["datasetGroups"][0]
    for s in g["solutions"]:
        for v in s["solutionVersions"]:
            if v["solutionVersionArn"] == arn:
                return v
    raise RuntimeError("version %s not found" % arn)


def train(savor, d, name, extra):
    t0 = time.time()
    arn = run([savor, "train", "--data-dir", d, "-g", "ml", "-r", "aws-user-personalization",
               "-s", name] + extra).strip().splitlines()[-1]
    return arn, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="ml-100k")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data"))
    ap.add_argument("--savor", default=os.path.join(ROOT, "build", "savor"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "hpo"))
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    HPO["hpoResourceConfig"]["maxNumberOfTrainingJobs"] = str(args.jobs)
    os.makedirs(args.out, exist_ok=True)
    hpo_path = os.path.join(args.out, "hpo.json")
    with open(hpo_path, "w") as f:
        json.dump(HPO, f, indent=1)
    ok = True
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    print("- date: %s; git %s (plus any uncommitted changes), release build, %d cores" % (
        date, git, os.cpu_count()))
    print("- command: `bench/hpo --datasets %s --jobs %d --reps %d`" % (
        args.datasets, args.jobs, args.reps))
    for ds in args.datasets.split(","):
        src = os.path.join(args.data, ds)
        if not os.path.isdir(src):
            log("skipped %s: %s is absent" % (ds, src))
            continue
        conv = os.path.join(args.out, ds)
        run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "convert-movielens.py"), ds, src,
             conv])
        d = tempfile.mkdtemp(prefix="savor-hpo.")
        try:
            run([args.savor, "import", "--data-dir", d, "-g", "ml", "-t", "INTERACTIONS",
                 os.path.join(conv, "interactions.csv")])
            log("== %s: defaults" % ds)
            arn_d, t_d = train(args.savor, d, "defaults", [])
            vd = version(args.savor, d, arn_d)
            log("== %s: HPO, %d trials" % (ds, args.jobs))
            arn_h, t_h = train(args.savor, d, "hpo", ["-p", "performHPO=true", "--hpo-config",
                                                       hpo_path])
            vh = version(args.savor, d, arn_h)
            off, on = [], []
            for r in range(args.reps):
                log("== %s: evaluation cost, rep %d" % (ds, r + 1))
                off.append(train(args.savor, d, "off%d" % r, ["-p", "evaluation=off"])[1])
                on.append(train(args.savor, d, "on%d" % r, [])[1])
        finally:
            shutil.rmtree(d, ignore_errors=True)
        md, mh = vd["metrics"], vh["metrics"]
        ev = vd["evaluation"]
        print()
        print("### %s" % ds)
        print()
        print("Test split: %d of %d users, %d held-out interactions (seed %d); HPO's validation "
              "split: %d users of the remaining %d." % (
                  ev["testUsers"], ev["eligibleUsers"], ev["heldOutInteractions"], ev["seed"],
                  vh["validation"]["testUsers"], vh["validation"]["eligibleUsers"]))
        print()
        print("| version | %s | train s |" % " | ".join(n for n, _ in SHOW))
        print("|---|%s---:|" % ("---:|" * len(SHOW)))
        tuned = vh["tunedHPOParams"]["algorithmHyperParameters"]
        keys = sorted(vh["hpoTrials"][0]["algorithmHyperParameters"])
        label = "HPO: " + " ".join("%s=%s" % (k, fmt(tuned[k])) for k in keys if k in tuned)
        for name, m, t in (("defaults", md, t_d), (label, mh, t_h)):
            print("| %s | %s | %.1f |" % (name, " | ".join("%.4f" % m[k] for _, k in SHOW), t))
        better = mh[OBJ] >= md[OBJ]
        ok &= better
        print()
        print("- HPO vs defaults on the test NDCG@10: %.4f / %.4f = **%.3f** (%s)" % (
            mh[OBJ], md[OBJ], mh[OBJ] / md[OBJ], "not worse: met" if better else "WORSE"))
        print()
        print("HPO trials (validation split):")
        print()
        print("| trial | %s | NDCG@10 (validation) | s |" % " | ".join(keys))
        print("|---:|%s---:|---:|" % ("---:|" * len(keys)))
        for t in vh["hpoTrials"]:
            hp = t["algorithmHyperParameters"]
            print("| %d | %s | %.4f | %.1f |" % (
                t["trial"], " | ".join(fmt(hp.get(k, "")) for k in keys),
                t["objective"], t["seconds"]))
        mo, mn = statistics.median(off), statistics.median(on)
        print()
        print("- training-time evaluation: median %.2f s with evaluation=off, %.2f s with it on "
              "(%d reps): **%.2fx** (evaluation model %.2f s of it)" % (
                  mo, mn, args.reps, mn / mo, vd["evaluation"]["seconds"]))
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
