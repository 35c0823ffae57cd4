#!/usr/bin/python3
"""Recommendation quality of savor on MovieLens, against numpy EASE and iALS.

usage: /usr/bin/python3 bench/quality_bench.py [--seeds 1,2,3,4,5]
           [--datasets ml-100k,ml-latest-small] [--data ../shared/data]
           [--savor build/savor] [--out bench/out/quality]
           [--no-savor-als] [--recency] [--recency-days 90]
           [--ials-grid full|small] [--ials-grid-seeds all|first]

Run through bench/quality. Per dataset:

 1. Convert the source (u.data / ratings.csv) with scripts/convert-movielens.py
    into OUT/<dataset>/interactions.csv (Personalize format, EVENT_TYPE
    "rating", EVENT_VALUE the rating). MovieLens data never enters the repo.
 2. Per seed: 10% of the users (numpy default_rng(seed), floor, at least 1) are
    test users; each one's latest 10% of interactions (by TIMESTAMP, ties in file
    order; floor, at least 1) are held out. The train CSV is every other row.
 3. savor: import the train CSV into a fresh data directory, train the recipes,
    and per test user run `savor recommend -n min(500, 25 + |history|)`, drop
    the items in the user's training history, keep the first 25.
 4. References on the same split, in numpy/scipy, with the same exclusion:
    EASE and iALS on the savor-style weights w = log(1 + value / mean value)
    (one rating per user and item in MovieLens, so one event per pair).
    Hyperparameters are picked from a grid by the test NDCG@10 averaged over
    the seeds: an oracle choice that favours the references.
 5. Metrics per test user over the 25, averaged over the users, then over
    the seeds; a markdown table per dataset on stdout, progress on stderr.

Exit status 0 when the bar is met (savor's default aws-user-personalization
>= the better reference on NDCG@10 and precision@10 on every dataset, and every
personalized savor recipe above aws-popularity-count on NDCG@10 and P@10),
3 when it is not.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
K = 25
METRICS = ["P@5", "P@10", "P@25", "R@10", "R@25", "NDCG@5", "NDCG@10", "NDCG@25",
           "MRR@25", "coverage"]
SOURCES = {"ml-100k": "ml-100k", "ml-latest-small": "ml-latest-small"}
EASE_GRID = [10, 50, 100, 200, 500, 1000]
IALS_FULL = [(f, r, a) for f in (32, 64, 128) for r in (0.1, 1, 10, 50) for a in (1, 5, 10, 40)]
IALS_SMALL = [(f, r, a) for f in (32, 64, 128) for r in (1, 10, 50) for a in (5, 10, 40)]
IALS_ITERS = 10


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data, split

def load(path):
    import csv
    users, items, vals, ts = [], [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        assert header == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"], header
        for row in r:
            users.append(row[0])
            items.append(row[1])
            vals.append(float(row[3]))
            ts.append(int(row[4]))
    return header, users, items, np.array(vals), np.array(ts, dtype=np.int64)


def split(users, ts, seed):
    """Returns (train_mask, {test user: held-out row indices})."""
    uniq = sorted(set(users))
    rng = np.random.default_rng(seed)
    ntest = max(1, len(uniq) // 10)
    test = set(rng.choice(np.array(uniq, dtype=object), size=ntest, replace=False).tolist())
    rows_of = {}
    for i, u in enumerate(users):
        if u in test:
            rows_of.setdefault(u, []).append(i)
    train = np.ones(len(users), dtype=bool)
    held = {}
    for u, rows in rows_of.items():
        rows.sort(key=lambda i: (ts[i], i))
        h = max(1, len(rows) // 10)
        held[u] = rows[-h:]
        train[rows[-h:]] = False
    return train, held


# ---------------------------------------------------------------- metrics

def user_metrics(recs, relevant):
    rel = [1.0 if it in relevant else 0.0 for it in recs[:K]]
    rel += [0.0] * (K - len(rel))
    nrel = len(relevant)
    disc = 1.0 / np.log2(np.arange(2, K + 2))
    out = {}
    for k in (5, 10, 25):
        out["P@%d" % k] = sum(rel[:k]) / k
    for k in (10, 25):
        out["R@%d" % k] = sum(rel[:k]) / nrel
    for k in (5, 10, 25):
        dcg = float(np.dot(rel[:k], disc[:k]))
        idcg = float(disc[:min(k, nrel)].sum())
        out["NDCG@%d" % k] = dcg / idcg
    out["MRR@25"] = next((1.0 / (i + 1) for i, x in enumerate(rel) if x), 0.0)
    return out


def evaluate(reclists, held_items, n_catalog):
    """reclists, held_items: dicts user -> list / set. Mean over users."""
    per = [user_metrics(reclists[u], held_items[u]) for u in held_items]
    res = {m: float(np.mean([p[m] for p in per])) for m in METRICS if m != "coverage"}
    distinct = set()
    for u in held_items:
        distinct.update(reclists[u][:K])
    res["coverage"] = len(distinct) / n_catalog
    return res


# ---------------------------------------------------------------- savor

def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("command failed (exit %d): %s\n%s" % (
            p.returncode, " ".join(cmd), p.stderr.strip()[-2000:]))
    return p.stdout


def savor_recipes(args):
    r = [("savor aws-user-personalization (defaults)", "aws-user-personalization", [])]
    if args.savor_als:
        # The default is EASE on these catalogs (model=auto); iALS for comparison.
        r.append(("savor aws-user-personalization model=als", "aws-user-personalization",
                  ["model=als"]))
    if args.recency:
        r.append(("savor aws-user-personalization recencyHalfLifeDays=%g" % args.recency_days,
                  "aws-user-personalization", ["recencyHalfLifeDays=%g" % args.recency_days]))
    r.append(("savor aws-popularity-count", "aws-popularity-count", []))
    return r


DEFAULT_LABELS = {"savor aws-user-personalization (defaults)"}
EXCLUDE_SEEN = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'


def savor_eval(args, train_csv, history, held_items, n_catalog, failures):
    d = tempfile.mkdtemp(prefix="savor-quality.", dir=args.tmp)
    out = {}
    try:
        run([args.savor, "import", "--data-dir", d, "-g", "q", "-t", "INTERACTIONS", train_csv])
        for i, (label, recipe, params) in enumerate(savor_recipes(args)):
            # evaluation=off: this script measures on its own split; savor's
            # training-time metrics would only cost time.
            cmd = [args.savor, "train", "--data-dir", d, "-g", "q", "-r", recipe,
                   "-s", "sol%d" % i, "-p", "evaluation=off"]
            for p in params:
                cmd += ["-p", p]
            t0 = time.time()
            try:
                arn = run(cmd).strip().splitlines()[-1]
            except RuntimeError as e:
                failures.append(str(e))
                log("  FAILED: %s" % e)
                continue
            ttrain = time.time() - t0
            recs, short = {}, 0
            t0 = time.time()
            for u in held_items:
                # Seen items are excluded the way a Personalize user would: with
                # a filter, so every user gets K unseen items however long their
                # history (the list is still checked against the history).
                cmd = [args.savor, "recommend", "--data-dir", d, "-v", arn, "-u", u,
                       "-n", str(K), "--filter", EXCLUDE_SEEN]
                got = [x["itemId"] for x in json.loads(run(cmd))["itemList"]]
                lst = [x for x in got if x not in history[u]][:K]
                short += len(lst) < K
                recs[u] = lst
            trec = time.time() - t0
            out[label] = evaluate(recs, held_items, n_catalog)
            out[label]["_short"] = short
            log("  %-58s train %.1fs, recommend %.1fs: NDCG@10 %.4f P@10 %.4f" % (
                label, ttrain, trec, out[label]["NDCG@10"], out[label]["P@10"]))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return out


# ---------------------------------------------------------------- references

def topk_unseen(scores, seen_rows, X, item_ids):
    """scores: (ntest, nitems); seen_rows: row indices of X. Top K unseen."""
    s = scores.copy()
    s[X[seen_rows].nonzero()] = -np.inf
    part = np.argpartition(-s, K, axis=1)[:, :K]
    order = np.take_along_axis(part, np.argsort(-np.take_along_axis(s, part, 1), axis=1), 1)
    return [[item_ids[j] for j in row] for row in order]


def ease_scores(X, test_rows, l2s):
    """EASE scores of the test rows for each l2, through the user-side Woodbury
    identity: P = (X^T X + l2 I)^-1 = (I - X^T (X X^T + l2 I)^-1 X) / l2.
    Exact; needs only an eigendecomposition of X X^T (users x users)."""
    Xd = X.toarray()
    G = Xd @ Xd.T
    s, V = np.linalg.eigh(G)
    XtV = Xd.T @ V                      # (items, users)
    xt = Xd[test_rows]                  # (ntest, items)
    xtV = xt @ XtV                      # (ntest, users): x_u X^T V
    for l2 in l2s:
        inv = 1.0 / (s + l2)
        diagP = (1.0 - np.einsum("ij,j,ij->i", XtV, inv, XtV)) / l2
        xP = (xt - (xtV * inv) @ XtV.T) / l2
        yield l2, xt - xP / diagP[None, :]


def als_side(M, F, reg, alpha):
    """One exact ALS half-step: rows of M (csr, weights w > 0) against factors F.
    A_r = F^T F + reg I + F_S^T diag(alpha w) F_S, b_r = F_S^T (1 + alpha w).
    Rows with n <= k use Woodbury on B = F^T F + reg I, batched by n."""
    k = F.shape[1]
    B = F.T @ F + reg * np.eye(k)
    Binv = np.linalg.inv(B)
    Binv = (Binv + Binv.T) / 2
    out = np.zeros((M.shape[0], k))
    counts = np.diff(M.indptr)
    for n in np.unique(counts):
        if n == 0:
            continue
        rows = np.nonzero(counts == n)[0]
        pos = M.indptr[rows][:, None] + np.arange(n)[None, :]
        idx = M.indices[pos]
        d = alpha * M.data[pos]                               # (g, n)
        U = F[idx]                                            # (g, n, k)
        b = np.einsum("gnk,gn->gk", U, 1.0 + d)
        if n <= k:
            z = b @ Binv
            UB = U @ Binv                                     # (g, n, k)
            Mm = UB @ U.transpose(0, 2, 1)
            Mm[:, np.arange(n), np.arange(n)] += 1.0 / d
            y = np.linalg.solve(Mm, np.einsum("gnk,gk->gn", U, z)[..., None])[..., 0]
            out[rows] = z - np.einsum("gnk,gn->gk", UB, y)
        else:
            for j, r in enumerate(rows):
                Uj = U[j]
                A = B + Uj.T @ (d[j][:, None] * Uj)
                out[r] = scipy.linalg.solve(A, b[j], assume_a="pos")
    return out


def ials_scores(X, test_rows, f, reg, alpha, seed=0):
    rng = np.random.default_rng(seed)
    nu, ni = X.shape
    Xu = X.tocsr()
    Xi = X.T.tocsr()
    P = rng.normal(0, 0.01, (nu, f))
    Q = rng.normal(0, 0.01, (ni, f))
    for _ in range(IALS_ITERS):
        P = als_side(Xu, Q, reg, alpha)
        Q = als_side(Xi, P, reg, alpha)
    return P[test_rows] @ Q.T


# ---------------------------------------------------------------- driver

def fmt_row(label, res):
    return "| %s | %s |" % (label, " | ".join("%.4f" % res[m] for m in METRICS))


def mean_over(seed_results):
    return {m: float(np.mean([r[m] for r in seed_results])) for m in METRICS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--datasets", default="ml-100k,ml-latest-small")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data"))
    ap.add_argument("--savor", default=os.path.join(ROOT, "build", "savor"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "quality"))
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--no-savor-als", dest="savor_als", action="store_false")
    ap.add_argument("--recency", action="store_true",
                    help="also train with recencyHalfLifeDays (training-time decay)")
    ap.add_argument("--recency-days", type=float, default=90)
    ap.add_argument("--ials-grid", choices=["full", "small"], default="full")
    ap.add_argument("--ials-grid-seeds", choices=["all", "first"], default="all")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()
    failures = []
    grid = IALS_FULL if args.ials_grid == "full" else IALS_SMALL
    report = {}

    for ds in args.datasets.split(","):
        dsout = os.path.join(args.out, ds)
        src = os.path.join(args.data, SOURCES[ds])
        log("== %s: converting %s" % (ds, src))
        run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "convert-movielens.py"),
             ds, src, dsout])
        header, users, items, vals, ts = load(os.path.join(dsout, "interactions.csv"))
        with open(os.path.join(dsout, "interactions.csv"), encoding="utf-8") as f:
            lines = f.read().splitlines()[1:]
        assert len(lines) == len(users)
        savor_res, ease_res, ials_res = {}, {}, {}
        info = {}
        for seed in seeds:
            log("-- %s seed %d" % (ds, seed))
            train, held = split(users, ts, seed)
            train_csv = os.path.join(dsout, "train-seed%d.csv" % seed)
            with open(train_csv, "w", encoding="utf-8") as f:
                f.write(",".join(header) + "\n")
                for i in np.nonzero(train)[0]:
                    f.write(lines[i] + "\n")
            tr = np.nonzero(train)[0]
            history = {u: set() for u in held}
            for i in tr:
                if users[i] in history:
                    history[users[i]].add(items[i])
            held_items = {u: set(items[i] for i in rows) for u, rows in held.items()}
            # training matrix, savor-style weights (one rating per pair)
            uid = {u: j for j, u in enumerate(sorted(set(users[i] for i in tr)))}
            item_ids = sorted(set(items[i] for i in tr))
            iid = {it: j for j, it in enumerate(item_ids)}
            w = np.log1p(vals[tr] / vals[tr].mean())
            X = sp.csr_matrix((w, ([uid[users[i]] for i in tr], [iid[items[i]] for i in tr])),
                              shape=(len(uid), len(iid)))
            X.sum_duplicates()
            ncat = len(item_ids)
            test_users = list(held)
            test_rows = np.array([uid[u] for u in test_users])
            info[seed] = {"train_rows": int(train.sum()), "heldout_rows": int((~train).sum()),
                          "test_users": len(held), "users": len(uid), "items": ncat}
            log("   %d train rows, %d held out, %d test users, %d users x %d items" % (
                train.sum(), (~train).sum(), len(held), len(uid), ncat))

            savor_res[seed] = savor_eval(args, train_csv, history, held_items, ncat, failures)

            t0 = time.time()
            for l2, S in ease_scores(X, test_rows, EASE_GRID):
                recs = dict(zip(test_users, topk_unseen(S, test_rows, X, item_ids)))
                ease_res.setdefault(l2, {})[seed] = evaluate(recs, held_items, ncat)
            log("  EASE grid %.1fs: %s" % (time.time() - t0, ", ".join(
                "%g: %.4f" % (l2, ease_res[l2][seed]["NDCG@10"]) for l2 in EASE_GRID)))
            if args.ials_grid_seeds == "first" and seed != seeds[0]:
                cfgs = [best_ials]
            else:
                cfgs = grid
            t0 = time.time()
            for cfg in cfgs:
                t1 = time.time()
                S = ials_scores(X, test_rows, *cfg)
                recs = dict(zip(test_users, topk_unseen(S, test_rows, X, item_ids)))
                ials_res.setdefault(cfg, {})[seed] = evaluate(recs, held_items, ncat)
                log("  iALS f=%d reg=%g alpha=%g: NDCG@10 %.4f (%.1fs)" % (
                    cfg + (ials_res[cfg][seed]["NDCG@10"], time.time() - t1)))
            if seed == seeds[0]:
                best_ials = max(grid, key=lambda c: ials_res[c][seed]["NDCG@10"])
            log("  iALS grid %.1fs" % (time.time() - t0))
            os.remove(train_csv)

        # aggregate
        rows = {}
        for label, _, _ in savor_recipes(args):
            per = [savor_res[s][label] for s in seeds if label in savor_res[s]]
            if len(per) == len(seeds):
                rows[label] = mean_over(per)
                rows[label]["_short"] = sum(p["_short"] for p in per)
        ease_mean = {l2: mean_over([ease_res[l2][s] for s in seeds]) for l2 in EASE_GRID}
        best_l2 = max(EASE_GRID, key=lambda l2: ease_mean[l2]["NDCG@10"])
        full_cfgs = [c for c in ials_res if len(ials_res[c]) == len(seeds)]
        ials_mean = {c: mean_over([ials_res[c][s] for s in seeds]) for c in full_cfgs}
        best_c = max(full_cfgs, key=lambda c: ials_mean[c]["NDCG@10"])
        ease_label = "EASE numpy, best l2=%g" % best_l2
        ials_label = "iALS numpy, best factors=%d reg=%g alpha=%g" % best_c
        report[ds] = {"rows": rows, "ease": (ease_label, ease_mean[best_l2]),
                      "ials": (ials_label, ials_mean[best_c]), "info": info,
                      "ease_grid": {str(k): v for k, v in ease_mean.items()},
                      "ials_grid": {str(k): v for k, v in ials_mean.items()}}

    # ------------------------------------------------------------ print
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        git = "?"
    ver = run([args.savor, "version"]).strip().splitlines()[0]
    print("- date: %s; %s, git %s (plus any uncommitted changes), release build" % (date, ver, git))
    print("- machine: %d cores, Linux %s, Python %s, numpy %s, scipy %s" % (
        os.cpu_count(), platform.release(), platform.python_version(), np.__version__,
        scipy.__version__))
    print("- seeds: %s; iALS grid: %s (%d configs) on %s seeds, %d iterations, exact solves; "
          "wall time %.0f s" % (args.seeds, args.ials_grid, len(grid),
                                args.ials_grid_seeds, IALS_ITERS, time.time() - t_start))
    bar_met = True
    for ds, r in report.items():
        print()
        print("### %s" % ds)
        print()
        i0 = r["info"][seeds[0]]
        print("%d users x %d items in training (seed %d); %d test users, %d held-out "
              "interactions per seed (seed %d)" % (i0["users"], i0["items"], seeds[0],
                                                   i0["test_users"], i0["heldout_rows"], seeds[0]))
        print()
        print("| model | %s |" % " | ".join(METRICS))
        print("|---|%s" % ("---:|" * len(METRICS)))
        for label, res in r["rows"].items():
            if "popularity" not in label:
                print(fmt_row(label, res))
        print(fmt_row(*r["ease"]))
        print(fmt_row(*r["ials"]))
        pop = r["rows"].get("savor aws-popularity-count")
        if pop:
            print(fmt_row("savor aws-popularity-count", pop))
        print()
        up = r["rows"].get("savor aws-user-personalization (defaults)")
        better = max([r["ease"], r["ials"]], key=lambda x: x[1]["NDCG@10"])
        if up is None:
            print("- savor aws-user-personalization failed: bar not met")
            bar_met = False
            continue
        for m in ("NDCG@10", "P@10"):
            best = max(r["ease"][1][m], r["ials"][1][m])
            ok = up[m] >= best
            bar_met &= ok
            print("- %s: savor default / better reference = %.4f / %.4f = **%.3f** (%s)" % (
                m, up[m], best, up[m] / best, "met" if ok else "NOT met"))
        print("  (vs EASE %.3f / %.3f, vs iALS %.3f / %.3f on NDCG@10 / P@10)" % (
            up["NDCG@10"] / r["ease"][1]["NDCG@10"], up["P@10"] / r["ease"][1]["P@10"],
            up["NDCG@10"] / r["ials"][1]["NDCG@10"], up["P@10"] / r["ials"][1]["P@10"]))
        if pop:
            for label, res in r["rows"].items():
                if label == "savor aws-popularity-count":
                    continue
                # The bar is about recipes with their defaults; rows with other
                # settings are shown for information.
                counts = label in DEFAULT_LABELS
                ok = res["NDCG@10"] > pop["NDCG@10"] and res["P@10"] > pop["P@10"]
                if counts:
                    bar_met &= ok
                print("- %s / popularity: NDCG@10 %.2fx, P@10 %.2fx (%s%s)" % (
                    label, res["NDCG@10"] / pop["NDCG@10"], res["P@10"] / pop["P@10"],
                    "beats it" if ok else "does NOT beat it",
                    "" if counts else "; a setting, not part of the bar"))
        shorts = {l: v["_short"] for l, v in r["rows"].items() if v.get("_short")}
        if shorts:
            print("- users with fewer than 25 unseen items from savor (500 cap): %s" % shorts)
    print()
    print("**Bar: %s**" % ("met" if bar_met and not failures else "NOT met"))
    for f in failures:
        print("- savor failure: %s" % f)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({ds: {k: v for k, v in r.items()} for ds, r in report.items()}, f,
                  indent=1, default=str)
    return 0 if bar_met and not failures else 3


if __name__ == "__main__":
    sys.exit(main())
