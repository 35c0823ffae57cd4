#!/usr/bin/python3
"""Benchmark `savor train` against issue 3's speed bar at 1M, 5M and 20M interactions.

usage: /usr/bin/python3 bench/train_bench.py [--sizes N,N,...] [--reps N] [--reps-big N]
                                             [--big N] [--threads N] [--generic-blas]
                                             [--ref-iterations N] [--no-ref]
                                             [--savor PATH] [--out DIR] [--keep-csv]
                                             [--timeout S]

Run through bench/train.sh. Steps:

 1. For every size N, generate OUT/train-N/interactions.csv with savor's own
    deterministic generator, in the shape issue 3 names (SHAPES below):
      savor demo --generate-only --csv-dir OUT/train-N --users U --items I
                 --creators C --events N --seed 42
    1M: 50k users, 10k items; 5M: 100k users, 20k items; 20M: 150k users, 30k
    items (other sizes: the shape of the nearest of these). Reused when
    OUT/train-N/meta.json matches (same arguments, same savor binary).
 2. Rounds: in round r every size with at least r repetitions runs once
    (sizes below --big get --reps, the others --reps-big), so a slow period
    on the machine hits all sizes alike. One repetition of size N, each
    command timed wall-clock as a whole process (start-up, loading the
    interactions from the store, training, writing the model and the solution
    version), peak RSS and CPU (user+sys) of that process from os.wait4():
      - a new empty data directory OUT/train-tmp.XXXX (removed afterwards,
        outside the timing); the CSV read once (page cache), untimed;
      - savor import --data-dir D -g bench -t INTERACTIONS interactions.csv
      - savor train -r aws-popularity-count -p evaluation=off  (baseline: one
                                                  pass over the data)
      - savor train -r aws-sims -p evaluation=off
      - savor train -r aws-user-personalization           "default": default
            settings, offline evaluation included (model=auto: EASE up to
            12,000 items, else iALS): the end-to-end figure
      - savor train -r aws-user-personalization -p evaluation=off
                                                          "noeval": training alone
      - savor train -r aws-user-personalization -p model=als -p evaluation=off
                                                          "als": iALS at 64 factors
            whatever the catalog; its solution version's secondsPerIteration
            (steady-state time per pass, first pass left out) is the
            per-iteration figure
    With --generic-blas, the last repetition of the 5M size (or the middle
    size) also trains "als" with OPENBLAS_CORETYPE=Prescott (OpenBLAS' generic
    kernels, which savor otherwise replaces itself).
 3. Checks: every command exits 0; after the import `savor describe` reports
    exactly N interactions; after training every solution version is ACTIVE
    and used N interactions; the "als" version reports secondsPerIteration.
 4. The numpy iALS reference (--ref), once, on the 1M set (else the smallest
    size), in its own process (this script with --ref-run): same weights
    w = log(1 + sum of value / mean value of the event type), c = 1 + 10 w,
    weighted-lambda regularization 0.35 * n, 64 factors, 3 conjugate-gradient
    steps per solve warm-started from the current factors, batched over all
    rows of a half-step (numpy/scipy, vectorized); one iteration = items
    half-step + users half-step; median of --ref-iterations iterations. It
    runs with the OPENBLAS_CORETYPE savor uses (numpy links the same OpenBLAS).
 5. Print a markdown snippet: the targets with PASS/FAIL, medians per size,
    per-iteration times next to the reference, peak RSS, scaling ratios.

Any failure (exit status, a signal such as the OOM killer's, --timeout) stops the
run with the command, the size and the tail of its stderr.
The driver is stdlib only; the reference (--ref-run) needs python3-numpy and
python3-scipy. Debian's /usr/bin/python3.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEED = 42
# Issue 3: 5M about 100k users and 20k items, 20M about 150k users and 30k items;
# 1M a smaller population in the same proportions.
SHAPES = {1_000_000: (50_000, 10_000), 5_000_000: (100_000, 20_000),
          20_000_000: (150_000, 30_000)}
UP = "aws-user-personalization"
BASELINES = ["aws-popularity-count", "aws-sims"]
# The user-personalization runs: name -> (solution name, extra -p settings, what).
UP_RUNS = {
    "default": ("bench-up-default", [], "default settings (evaluation included)"),
    "noeval": ("bench-up-noeval", ["evaluation=off"], "training alone (evaluation=off)"),
    "als": ("bench-up-als", ["model=als", "evaluation=off"], "iALS (model=als, evaluation=off)"),
}
GENERIC_SOLUTION = "bench-up-als-generic-blas"
EASE_MAX_ITEMS = 12_000  # model=auto trains EASE up to this many items (docs/recipes.md)
ITERATIONS = 15          # the iALS defaults (docs/recipes.md)
FACTORS = 64
CG_STEPS = 3
REG = 0.35
ALPHA = 10.0
GENERIC = "Prescott"
# Targets of issue 3 (this 2-core machine).
TARGET_SPI = 0.5                # s per iALS iteration at 5M, 64 factors
TARGET_20M_SECONDS = 120.0      # 20M trained end to end, default settings
TARGET_RSS_BYTES = 4 * 10**9    # peak memory under 4 GB
IMPLICIT_SPI_5M = 1.5           # the figure for the implicit library (CG) at 5M


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Failed(Exception):
    pass


def shape(n):
    """(users, items, creators) for n interactions: the nearest of SHAPES."""
    key = min(SHAPES, key=lambda s: abs(s - n))
    users, items = SHAPES[key]
    return users, items, items // 10


def run(argv, env=None, timeout=None, what=""):
    """Run argv; return (wall s, peak RSS KiB, CPU s, stdout str). Raise Failed on error."""
    errf = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf,
                         env=env)
    timer = None
    timed_out = []
    if timeout:
        def kill():
            timed_out.append(True)
            p.kill()
        timer = threading.Timer(timeout, kill)
        timer.start()
    out = p.stdout.read()
    p.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if timer:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    errf.seek(0)
    err = errf.read().decode("utf-8", "replace")
    errf.close()
    if p.returncode != 0 or timed_out:
        how = ("killed after the --timeout of %d s" % timeout if timed_out else
               "killed by signal %d%s" % (-p.returncode, " (SIGKILL: the OOM killer?)"
                                          if p.returncode == -9 else "")
               if p.returncode < 0 else "exit status %d" % p.returncode)
        tail = "\n".join("    " + l for l in err.strip().splitlines()[-15:])
        raise Failed("%s\n  command: %s\n  %s after %.1f s, peak RSS %.1f MiB\n  stderr (tail):\n%s"
                     % (what, " ".join(argv), how, wall, ru.ru_maxrss / 1024.0, tail or "    (empty)"))
    return wall, ru.ru_maxrss, ru.ru_utime + ru.ru_stime, out.decode("utf-8", "replace")


def gen_argv(savor, d, n):
    users, items, creators = shape(n)
    return [savor, "demo", "--generate-only", "--csv-dir", d, "--users", str(users),
            "--items", str(items), "--creators", str(creators), "--events", str(n),
            "--seed", str(SEED)]


def ensure_data(savor, savor_sha, out_dir, n, keep, timeout):
    d = os.path.join(out_dir, "train-%d" % n)
    meta_path = os.path.join(d, "meta.json")
    csv_path = os.path.join(d, "interactions.csv")
    users, items, creators = shape(n)
    want = dict(users=users, items=items, creators=creators, seed=SEED, events=n,
                savor_sha=savor_sha)
    if keep and os.path.exists(meta_path) and os.path.exists(csv_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if all(meta.get(k) == v for k, v in want.items()) \
                and meta.get("csv_bytes") == os.path.getsize(csv_path):
            log("reusing %s" % csv_path)
            return csv_path, meta
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    log("generating %s (%d events, %d users, %d items) ..." % (csv_path, n, users, items))
    wall, rss, cpu, _ = run(gen_argv(savor, d, n), timeout=timeout,
                            what="generating %d events" % n)
    meta = dict(want, csv_bytes=os.path.getsize(csv_path), gen_wall=wall, gen_rss_kib=rss,
                gen_cpu=cpu)
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    log("  %.1f s, %.1f MiB CSV, peak RSS %.1f MiB" % (wall, meta["csv_bytes"] / 2**20, rss / 1024))
    return csv_path, meta


def describe(savor, d):
    out = subprocess.run([savor, "describe", "--data-dir", d, "--dataset-group", "bench"],
                         check=True, capture_output=True).stdout
    return json.loads(out)["datasetGroups"][0]


def tree_bytes(d):
    total = 0
    for root, _, files in os.walk(d):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def train_argv(a, d, recipe, solution, params):
    argv = [a.savor, "train", "--data-dir", d, "--dataset-group", "bench", "--recipe", recipe,
            "--solution", solution]
    for p in params:
        argv += ["--param", p]
    if a.threads:
        argv += ["--threads", str(a.threads)]
    return argv


def model_ran(version, items):
    """Which user-personalization model a solution version trained, from describe."""
    hp = version.get("solutionConfig", {}).get("algorithmHyperParameters", {})
    m = hp.get("model", "auto")
    if m == "auto":
        m = "ease" if items <= EASE_MAX_ITEMS else "als"
    # iALS iterates, so it records secondsPerIteration; EASE is one solve.
    if (m == "als") != ("secondsPerIteration" in version):
        return m + "?"
    return m


def one_rep(a, n, csv_path, generic):
    """One repetition at size n; returns ({case: (wall, rss, cpu)}, info)."""
    res = {}
    info = {}
    d = tempfile.mkdtemp(prefix="train-tmp.", dir=a.out)
    try:
        with open(csv_path, "rb") as f:  # page cache, untimed
            while f.read(1 << 22):
                pass
        label = "size %d" % n
        res["import"] = run([a.savor, "import", "--data-dir", d, "--dataset-group", "bench",
                             "--type", "INTERACTIONS", csv_path],
                            timeout=a.timeout, what="savor import at %s" % label)[:3]
        st = [x for x in describe(a.savor, d)["datasets"]
              if x["datasetType"] == "Interactions"][0]["statistics"]
        if st["interactions"] != n:
            raise Failed("savor describe after the import at %s: %d interactions, expected %d"
                         % (label, st["interactions"], n))
        info["users"], info["items"] = st["users"], st["items"]
        jobs = [(r, r, "bench-" + r[4:], ["evaluation=off"], None) for r in BASELINES]
        jobs += [(case, UP, sol, params, None) for case, (sol, params, _) in UP_RUNS.items()]
        if generic:
            jobs.append(("generic", UP, GENERIC_SOLUTION, UP_RUNS["als"][1],
                         dict(os.environ, OPENBLAS_CORETYPE=GENERIC)))
        sol_case = {}
        for case, recipe, sol, params, env in jobs:
            argv = train_argv(a, d, recipe, sol, params)
            what = "%ssavor train -r %s %s at %s" % (
                "OPENBLAS_CORETYPE=%s " % GENERIC if env else "", recipe,
                " ".join("-p " + p for p in params), label)
            wall, rss, cpu, out = run(argv, env=env, timeout=a.timeout, what=what)
            if ":solution/" not in out:
                raise Failed("%s printed no solution version ARN: %r" % (what, out[:200]))
            res[case] = (wall, rss, cpu)
            sol_case[sol] = case
        for s in describe(a.savor, d)["solutions"]:
            case = sol_case.get(s["name"])
            for v in s["solutionVersions"]:
                if v["status"] != "ACTIVE" or v.get("interactionsUsed") != n:
                    raise Failed("solution version %s at %s: status %s, interactionsUsed %s "
                                 "(expected ACTIVE, %d)" % (v["solutionVersionArn"], label,
                                                            v["status"], v.get("interactionsUsed"), n))
                if case in UP_RUNS or case == "generic":
                    info[case] = {"trainingSeconds": v.get("trainingSeconds"),
                                  "secondsPerIteration": v.get("secondsPerIteration"),
                                  "evaluationSeconds": v.get("evaluation", {}).get("seconds"),
                                  "model": model_ran(v, info["items"])}
        for case in ["als"] + (["generic"] if generic else []):
            if not (info.get(case) or {}).get("secondsPerIteration"):
                raise Failed("the %s solution version at %s records no secondsPerIteration"
                             % (case, label))
        info["store_bytes"] = tree_bytes(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return res, info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def machine():
    cpu_model = "?"
    mem = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.0f GiB RAM" % (int(line.split()[1]) / 2**20)
                    break
    except OSError:
        pass
    return "%d cores (%s), %s, %s %s, Python %s" % (
        os.cpu_count() or 0, cpu_model, mem, platform.system(), platform.release(),
        platform.python_version())


def human(n):
    if n % 1_000_000 == 0:
        return "%dM" % (n // 1_000_000)
    if n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


# ---- the numpy iALS reference (runs in its own process: --ref-run) -----------------------------

def ref_load(csv_path):
    """The user x item weight matrix w = log(1 + sum_e value_e / mean value of e's type)."""
    import csv
    import numpy as np
    import scipy.sparse as sp
    uid, iid, tid = {}, {}, {}
    us, its, ts, vs = [], [], [], []
    with open(csv_path, newline="") as f:
        rd = csv.reader(f)
        head = rd.__next__()
        cu, ci = head.index("USER_ID"), head.index("ITEM_ID")
        ct = head.index("EVENT_TYPE") if "EVENT_TYPE" in head else None
        cv = head.index("EVENT_VALUE") if "EVENT_VALUE" in head else None
        for row in rd:
            us.append(uid.setdefault(row[cu], len(uid)))
            its.append(iid.setdefault(row[ci], len(iid)))
            ts.append(tid.setdefault(row[ct], len(tid)) if ct is not None else 0)
            vs.append(float(row[cv]) if cv is not None and row[cv] != "" else float("nan"))
    u = np.array(us, dtype=np.int64)
    i = np.array(its, dtype=np.int64)
    t = np.array(ts, dtype=np.int64)
    v = np.array(vs, dtype=np.float64)
    has = ~np.isnan(v)
    ntypes = max(len(tid), 1)
    vsum = np.bincount(t[has], weights=v[has], minlength=ntypes)
    vcnt = np.bincount(t[has], minlength=ntypes)
    mean = np.where(vcnt > 0, vsum / np.maximum(vcnt, 1), 0.0)
    b = np.ones_like(v)
    use = has & (mean[t] > 0)
    b[use] = v[use] / mean[t][use]
    keep = ~(use & (v <= 0))  # values <= 0 carry no preference
    m = sp.coo_matrix((b[keep], (u[keep], i[keep])), shape=(len(uid), len(iid))).tocsr()
    m.sum_duplicates()
    m.data = np.log1p(m.data).astype(np.float32)
    m.eliminate_zeros()
    return m


class HalfStep:
    """Solve the rows of m (CSR, weights w) against fixed factors F: batched CG over all rows."""

    CHUNK = 1 << 15  # observed pairs per gather block: 2 x 8 MiB at 64 factors, in cache (3x
                     # faster here than blocks of 2^17)

    def __init__(self, m):
        import numpy as np
        self.m = m
        counts = np.diff(m.indptr)
        self.rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), counts)
        self.cols = m.indices.astype(np.int64)
        self.cm1 = (ALPHA * m.data).astype(np.float32)        # c - 1
        self.c = (1.0 + self.cm1).astype(np.float32)           # c
        self.reg = (REG * counts).astype(np.float32)[:, None]  # weighted-lambda
        self.empty = counts == 0

    def rowdot(self, p, f):
        """s_k = p[row_k] . f[col_k] over the observed pairs, in blocks."""
        import numpy as np
        out = np.empty(len(self.rows), dtype=np.float32)
        for a in range(0, len(out), self.CHUNK):
            b = min(a + self.CHUNK, len(out))
            np.einsum("ij,ij->i", np.take(p, self.rows[a:b], axis=0),
                      np.take(f, self.cols[a:b], axis=0), out=out[a:b])
        return out

    def spmm(self, data, f):
        import scipy.sparse as sp
        m = sp.csr_matrix((data, self.m.indices, self.m.indptr), shape=self.m.shape)
        return m @ f

    def apply(self, p, f, g):
        """A p for every row: p G + reg p + sum_i (c_i - 1) (f_i . p) f_i."""
        ap = p @ g
        ap += self.reg * p
        ap += self.spmm(self.cm1 * self.rowdot(p, f), f)
        return ap

    def solve(self, x, f, steps):
        import numpy as np
        g = f.T @ f
        r = self.spmm(self.c, f) - self.apply(x, f, g)  # b - A x
        p = r.copy()
        rsold = np.einsum("ij,ij->i", r, r)
        for _ in range(steps):
            ap = self.apply(p, f, g)
            pap = np.einsum("ij,ij->i", p, ap)
            alpha = np.divide(rsold, pap, out=np.zeros_like(rsold), where=pap > 0)
            x += alpha[:, None] * p
            r -= alpha[:, None] * ap
            rsnew = np.einsum("ij,ij->i", r, r)
            beta = np.divide(rsnew, rsold, out=np.zeros_like(rsnew), where=rsold > 0)
            p = r + beta[:, None] * p
            rsold = rsnew
        x[self.empty] = 0.0

    def loss(self, x, f):
        """sum over all pairs of c (p - x.f)^2 plus x's regularization."""
        import numpy as np
        g = f.T @ f
        s = self.rowdot(x, f).astype(np.float64)
        full = float(np.einsum("ij,ij->", x @ g, x, dtype=np.float64))
        obs = float(np.sum(self.c * (1.0 - s) ** 2 - s * s))
        return full + obs + float(np.sum(self.reg[:, 0] * np.einsum("ij,ij->i", x, x)))


def openblas_corename():
    """The kernels of the OpenBLAS this process loaded (numpy's), or '?'."""
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            libs = {l.split()[-1] for l in f if "blas" in l and ".so" in l}
        for lib in sorted(libs):
            try:
                fn = ctypes.CDLL(lib).openblas_get_corename
            except (OSError, AttributeError):
                continue
            fn.restype = ctypes.c_char_p
            return fn().decode()
    except OSError:
        pass
    return "?"


def ref_selfcheck():
    """Batched CG run to convergence must match exact per-row solves; returns the max rel. error."""
    import numpy as np
    import scipy.sparse as sp
    rng = np.random.default_rng(SEED)
    m = sp.random(300, 200, density=0.05, format="csr", random_state=SEED, dtype=np.float32)
    m.data = np.log1p(3 * m.data).astype(np.float32)
    h = HalfStep(m)
    f = (0.3 * rng.standard_normal((200, FACTORS))).astype(np.float32)
    x = np.zeros((300, FACTORS), dtype=np.float32)
    h.solve(x, f, 60)
    g = f.T.astype(np.float64) @ f
    worst = 0.0
    for u in range(m.shape[0]):
        idx, w = m.indices[m.indptr[u]:m.indptr[u + 1]], m.data[m.indptr[u]:m.indptr[u + 1]]
        if len(idx) == 0:
            continue
        c = 1.0 + ALPHA * w.astype(np.float64)
        fh = f[idx].astype(np.float64)
        a = g + REG * len(idx) * np.eye(FACTORS) + (fh.T * (c - 1.0)) @ fh
        exact = np.linalg.solve(a, fh.T @ c)
        worst = max(worst, float(np.abs(exact - x[u]).max() / np.abs(exact).max()))
    if worst > 1e-3:
        raise SystemExit("reference self-check: batched CG is off the exact solves by %g" % worst)
    return worst


def ref_run(csv_path, iterations):
    """Train the reference; print JSON: per-iteration seconds, losses, shape."""
    import numpy as np
    check = ref_selfcheck()
    t0 = time.perf_counter()
    ui = ref_load(csv_path)
    iu = ui.T.tocsr()
    load_s = time.perf_counter() - t0
    users, items = HalfStep(ui), HalfStep(iu)
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-0.01, 0.01, (ui.shape[0], FACTORS)).astype(np.float32)
    y = rng.uniform(-0.01, 0.01, (ui.shape[1], FACTORS)).astype(np.float32)
    secs, cpus, losses = [], [], []
    for _ in range(iterations):
        t, c = time.perf_counter(), time.process_time()
        items.solve(y, x, CG_STEPS)
        users.solve(x, y, CG_STEPS)
        secs.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        # The loss (untimed) shows the reference minimises the objective.
        yreg = float(np.sum(items.reg[:, 0] * np.einsum("ij,ij->i", y, y)))
        losses.append(users.loss(x, y) + yreg)
    print(json.dumps({"users": ui.shape[0], "items": ui.shape[1], "pairs": int(ui.nnz),
                      "load_seconds": load_s, "iteration_seconds": secs,
                      "iteration_cpu_seconds": cpus,
                      "losses": losses,
                      "numpy": np.__version__, "corename": openblas_corename(),
                      "selfcheck": check}))


def reference(a, csv_path, corename):
    env = dict(os.environ)
    if corename:
        env["OPENBLAS_CORETYPE"] = corename
    log("numpy iALS reference on %s (%d iterations) ..." % (csv_path, a.ref_iterations))
    wall, rss, cpu, out = run([sys.executable, os.path.abspath(__file__), "--ref-run", csv_path,
                               "--ref-iterations", str(a.ref_iterations)], env=env,
                              timeout=a.timeout, what="the numpy iALS reference")
    r = json.loads(out)
    r.update(wall=wall, rss_kib=rss, cpu=cpu, spi=statistics.median(r["iteration_seconds"]),
             cpu_spi=statistics.median(r["iteration_cpu_seconds"]))
    log("  %.2f s per iteration (median of %s), loss %s"
        % (r["spi"], " ".join("%.2f" % s for s in r["iteration_seconds"]),
           " > ".join("%.4g" % l for l in r["losses"])))
    return r


# ---- driver ----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,5000000,20000000",
                    help="comma-separated interaction counts (default 1M, 5M, 20M)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions below --big (default 3)")
    ap.add_argument("--reps-big", type=int, default=2,
                    help="repetitions at sizes >= --big (default 2)")
    ap.add_argument("--big", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=0,
                    help="savor train --threads (default: savor's, all CPUs)")
    ap.add_argument("--generic-blas", action="store_true",
                    help="also train iALS once with OPENBLAS_CORETYPE=%s at the middle size"
                    % GENERIC)
    ap.add_argument("--ref-iterations", type=int, default=5,
                    help="iterations of the numpy iALS reference (default 5; median reported)")
    ap.add_argument("--no-ref", action="store_true", help="skip the numpy iALS reference")
    ap.add_argument("--ref-run", metavar="CSV", help=argparse.SUPPRESS)
    ap.add_argument("--savor", default=os.path.join(ROOT, "build", "savor"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--keep-csv", action="store_true",
                    help="keep the generated CSVs in OUT/train-N (and reuse them next time)")
    ap.add_argument("--timeout", type=int, default=3600, help="per process, seconds")
    a = ap.parse_args()
    if a.ref_run:
        ref_run(a.ref_run, max(1, a.ref_iterations))
        return 0
    a.sizes = sorted({int(x.replace("_", "")) for x in a.sizes.split(",") if x.strip()})
    if not a.sizes or a.sizes[0] < 1:
        sys.exit("--sizes: give positive interaction counts")
    if a.reps < 1 or a.reps_big < 1 or a.ref_iterations < 1:
        sys.exit("--reps, --reps-big and --ref-iterations must be at least 1")
    if not os.access(a.savor, os.X_OK):
        sys.exit("%s: not found; build it first with `make -j2`" % a.savor)
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)

    # Time a private copy: other work may relink build/savor during the run.
    snap_dir = tempfile.mkdtemp(prefix="savor-bench-bin.")
    savor_path = a.savor
    a.savor = os.path.join(snap_dir, "savor")
    shutil.copy2(savor_path, a.savor)
    with open(a.savor, "rb") as f:
        savor_sha = hashlib.sha256(f.read()).hexdigest()[:12]
    # The commit now, with the copy: it may move on while the benchmark runs.
    try:
        a.commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
    except OSError:
        a.commit = "?"
    try:
        return bench(a, savor_path, savor_sha)
    except Failed as ex:
        log("\nFAILED: %s" % ex)
        return 1
    finally:
        shutil.rmtree(snap_dir, ignore_errors=True)
        if not a.keep_csv:
            for n in a.sizes:
                shutil.rmtree(os.path.join(a.out, "train-%d" % n), ignore_errors=True)


def verdict(ok):
    return "**PASS**" if ok else "**FAIL**"


def bench(a, savor_path, savor_sha):
    started = datetime.datetime.now(datetime.timezone.utc)
    data = {n: ensure_data(a.savor, savor_sha, a.out, n, a.keep_csv, a.timeout) for n in a.sizes}
    reps = {n: (a.reps_big if n >= a.big else a.reps) for n in a.sizes}
    generic_n = None
    if a.generic_blas:
        generic_n = 5_000_000 if 5_000_000 in a.sizes else a.sizes[len(a.sizes) // 2]
    savor_ver = subprocess.run([a.savor, "version"], capture_output=True,
                               text=True).stdout.strip().replace("\n", "; ")
    m = re.search(r"OpenBLAS, (\w+) kernels", savor_ver)
    corename = m.group(1) if m else None

    res = {n: {} for n in a.sizes}
    info = {n: [] for n in a.sizes}
    load = {n: [] for n in a.sizes}
    load_before = loadavg()
    for rnd in range(1, max(reps.values()) + 1):
        for n in a.sizes:
            if reps[n] < rnd:
                continue
            log("round %d/%d, %d interactions ..." % (rnd, max(reps.values()), n))
            l0 = loadavg()
            r, inf = one_rep(a, n, data[n][0], generic=(n == generic_n and rnd == reps[n]))
            load[n].append((l0, loadavg()))
            info[n].append(inf)
            for c, v in r.items():
                res[n].setdefault(c, []).append(v)
            log("  " + ", ".join("%s %.2fs (%.0f MiB)" % (c, v[0], v[1] / 1024)
                                 for c, v in r.items()))
            log("  s/iteration: " + ", ".join(
                "%s %.3f" % (c, inf[c]["secondsPerIteration"]) for c in list(UP_RUNS) + ["generic"]
                if c in inf and inf[c]["secondsPerIteration"]))
    ref_n = 1_000_000 if 1_000_000 in a.sizes else a.sizes[0]
    ref = None if a.no_ref else reference(a, data[ref_n][0], corename)
    load_after = loadavg()

    def med(n, c, i=0):
        v = [x[i] for x in res[n].get(c, [])]
        return statistics.median(v) if v else None

    def peak(n, c):
        return max(x[1] for x in res[n][c]) / 1024.0

    def peak_all(n):
        return max(x[1] for c in res[n] for x in res[n][c]) / 1024.0

    def rng(n, c):
        v = [x[0] for x in res[n][c]]
        return "%.1f-%.1f" % (min(v), max(v)) if len(v) > 1 else "-"

    def attr(n, c, key):
        v = [x[c][key] for x in info[n] if x.get(c) and x[c].get(key) is not None]
        return statistics.median(v) if v else None

    def models(n, c):
        return "/".join(sorted({x[c]["model"] for x in info[n]}))

    generic_ver = ""
    if generic_n:
        generic_ver = subprocess.run([a.savor, "version"], capture_output=True, text=True,
                                     env=dict(os.environ, OPENBLAS_CORETYPE=GENERIC)
                                     ).stdout.strip().splitlines()[-1]
    base = a.sizes[0]
    thr = " --threads %d" % a.threads if a.threads else ""
    L = []
    L.append("## Training speed (issue 3's speed bar; %s interactions)"
             % " / ".join(human(n) for n in a.sizes))
    L.append("")
    L.append("- date: %s (run started %s)" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        started.strftime("%H:%M UTC")))
    L.append("- machine: %s" % machine())
    L.append("- savor: `%s`, git %s (plus any uncommitted changes), release build (`make -j2`, "
             "-O2), `%s` sha256 %s..." % (savor_ver or "?", a.commit or "?",
                                          os.path.relpath(savor_path, ROOT), savor_sha))
    L.append("- data: `savor demo --generate-only --csv-dir DIR --users U --items I --creators C "
             "--events N --seed %d` (interactions.csv only), U / I / C = %s"
             % (SEED, "; ".join("%d / %d / %d at %s" % (shape(n) + (human(n),)) for n in a.sizes)))
    L.append("- commands, each timed as a whole process (wall clock: start-up, loading the "
             "interactions from the store, training, writing the model; peak RSS and CPU from "
             "`os.wait4()`), a fresh data directory per repetition: "
             "`savor import --data-dir D -g bench -t INTERACTIONS DIR/interactions.csv`, then "
             "`savor train --data-dir D -g bench -r R%s [-p ...]`:" % thr)
    L.append("  - popularity-count and sims with `-p evaluation=off` (context: the baseline is "
             "one pass over the data)")
    L.append("  - user-personalization **default**: no parameters (model=auto: EASE up to %d "
             "items, else iALS with %d factors, %d iterations, cg_steps %d; offline evaluation "
             "included)" % (EASE_MAX_ITEMS, FACTORS, ITERATIONS, CG_STEPS))
    L.append("  - user-personalization **training alone**: `-p evaluation=off`")
    L.append("  - user-personalization **iALS**: `-p model=als -p evaluation=off`; s/iteration is "
             "the solution version's `secondsPerIteration` from `savor describe` (steady-state "
             "time per pass, the first pass left out)")
    L.append("- repetitions: %s, in rounds alternating the sizes; medians below%s, peak RSS the "
             "max over runs" % (", ".join("%d at %s" % (reps[n], human(n)) for n in a.sizes),
                                " (of 2: the mean)" if 2 in reps.values() else ""))
    L.append("- load average (1 min) before/after: %s / %s (the machine is shared; per size and "
             "repetition: %s)" % (load_before, load_after, "; ".join(
                 "%s %s" % (human(n), " ".join("%s>%s" % p for p in load[n])) for n in a.sizes)))
    L.append("")

    # Targets.
    L.append("| target (issue 3, this machine) | measured | |")
    L.append("|---|---:|---|")
    if 5_000_000 in a.sizes:
        spi5 = attr(5_000_000, "als", "secondsPerIteration")
        L.append("| iALS, 64 factors, at most %.1f s per iteration at 5M | %.3f s | %s |"
                 % (TARGET_SPI, spi5, verdict(spi5 <= TARGET_SPI)))
    else:
        L.append("| iALS, 64 factors, at most %.1f s per iteration at 5M | not run (--sizes) | |"
                 % TARGET_SPI)
    if 20_000_000 in a.sizes:
        t20 = med(20_000_000, "default")
        L.append("| 20M trained end to end (`savor train`, default settings, evaluation "
                 "included) in under %.0f s | %.1f s | %s |"
                 % (TARGET_20M_SECONDS, t20, verdict(t20 < TARGET_20M_SECONDS)))
    else:
        L.append("| 20M trained end to end (default settings) in under %.0f s | not run (--sizes) "
                 "| |" % TARGET_20M_SECONDS)
    pk = max(peak_all(n) for n in a.sizes)
    L.append("| peak memory (max RSS of any savor import or train process, sizes run) under 4 GB "
             "(4e9 bytes) | %.0f MiB | %s |" % (pk, verdict(pk * 2**20 < TARGET_RSS_BYTES)))
    L.append("")

    # Per-iteration against the references.
    L.append("Time per iALS iteration (64 factors, %d CG steps; one iteration = items half-step "
             "+ users half-step):" % CG_STEPS)
    L.append("")
    L.append("| | interactions | s/iteration | |")
    L.append("|---|---:|---:|---|")
    for n in a.sizes:
        L.append("| savor (`-p model=als`, %s threads) | %s | **%.3f** | %d-pass training, "
                 "secondsPerIteration |" % (a.threads or "all", human(n),
                                            attr(n, "als", "secondsPerIteration"), ITERATIONS))
    if ref:
        spi_ref_n = attr(ref_n, "als", "secondsPerIteration")
        L.append("| numpy/scipy iALS reference (`bench/train_bench.py`) | %s | **%.3f** | median "
                 "of %d iterations (%s s); OpenBLAS %s kernels |"
                 % (human(ref_n), ref["spi"], len(ref["iteration_seconds"]),
                    " ".join("%.2f" % s for s in ref["iteration_seconds"]), ref["corename"]))
        L.append("| **savor / numpy** | %s | **%.3f** | %.1fx faster |"
                 % (human(ref_n), spi_ref_n / ref["spi"], ref["spi"] / spi_ref_n))
    L.append("| `implicit` library, CG (the issue's figure; not installable here: no PyPI) | 5M "
             "| ~%.1f | not measured |" % IMPLICIT_SPI_5M)
    if 5_000_000 in a.sizes:
        spi5 = attr(5_000_000, "als", "secondsPerIteration")
        L.append("| savor at 5M against the issue's target (%.1f s) and `implicit` (~%.1f s) | 5M "
                 "| | %.0f%% of the target; %.1fx faster than implicit's figure |"
                 % (TARGET_SPI, IMPLICIT_SPI_5M, 100 * spi5 / TARGET_SPI, IMPLICIT_SPI_5M / spi5))
    if ref:
        L.append("")
        L.append("The reference (%d users x %d items, %d pairs; loaded in %.1f s, whole process "
                 "%.1f s wall, %.1f s CPU, peak RSS %.0f MiB): the same weights "
                 "w = log(1 + sum of value / type's mean value), c = 1 + %g w, regularization "
                 "%g x interactions of the row, %d factors, %d CG steps per solve warm-started "
                 "from the current factors, batched over all rows of a half-step (scipy CSR "
                 "products, numpy einsum over the observed pairs; OpenBLAS threads for the "
                 "k x k products only); CPU time (user+sys) per iteration %.2f s (median); "
                 "loss after each iteration (computed outside the timing) %s. Self-check: "
                 "run to convergence (60 CG steps) on a random 300 x 200 problem, the batched "
                 "CG matches exact per-row solves to a relative %.1g. savor's "
                 "secondsPerIteration includes its loss computation."
                 % (ref["users"], ref["items"], ref["pairs"], ref["load_seconds"], ref["wall"],
                    ref["cpu"], ref["rss_kib"] / 1024.0, ALPHA, REG, FACTORS, CG_STEPS,
                    ref["cpu_spi"],
                    " > ".join("%.4g" % l for l in ref["losses"]), ref["selfcheck"]))
    L.append("")

    # Per size.
    L.append("| interactions | users / items | CSV | import | UP default: model | **UP default, "
             "end to end** (range) | of which evaluation | UP training alone (evaluation=off) "
             "| UP iALS (model=als) total | iALS s/iteration | popularity-count | sims |")
    L.append("|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in a.sizes:
        meta = data[n][1]
        ev = attr(n, "default", "evaluationSeconds")
        L.append("| %s | %d / %d | %.0f MiB | %.2f s | %s | **%.1f s** (%s) | %s | %.1f s | %.1f s "
                 "| %.3f s | %.2f s | %.2f s |"
                 % (human(n), info[n][0]["users"], info[n][0]["items"], meta["csv_bytes"] / 2**20,
                    med(n, "import"), models(n, "default"), med(n, "default"), rng(n, "default"),
                    "%.1f s" % ev if ev is not None else "-", med(n, "noeval"), med(n, "als"),
                    attr(n, "als", "secondsPerIteration"), med(n, BASELINES[0]),
                    med(n, BASELINES[1])))
    L.append("")
    L.append("'of which evaluation' is the version's `evaluation.seconds`; 'model' is what "
             "model=auto trained (EASE up to %d items; iALS records secondsPerIteration, EASE "
             "does not)." % EASE_MAX_ITEMS)
    L.append("")
    L.append("Peak RSS (max over runs), CPU (user+sys, median) and the data directory after all "
             "the trainings of a repetition:")
    L.append("")
    L.append("| interactions | generate | import | UP default | UP training alone | UP iALS "
             "| UP default CPU / wall | popularity-count | sims | data dir |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in a.sizes:
        L.append("| %s | %.0f MiB | %.0f MiB | **%.0f MiB** | %.0f MiB | %.0f MiB | %.1f s / %.2f "
                 "| %.0f MiB | %.0f MiB | %.0f MiB |"
                 % (human(n), data[n][1]["gen_rss_kib"] / 1024.0, peak(n, "import"),
                    peak(n, "default"), peak(n, "noeval"), peak(n, "als"), med(n, "default", 2),
                    med(n, "default", 2) / med(n, "default"), peak(n, BASELINES[0]),
                    peak(n, BASELINES[1]), info[n][0]["store_bytes"] / 2**20))
    if len(a.sizes) > 1:
        L.append("")
        L.append("Scaling, same run (median at N / median at %s; the rows grow N/%s):"
                 % (human(base), human(base)))
        L.append("")
        L.append("| | " + " | ".join("%s/%s" % (human(n), human(base)) for n in a.sizes[1:]) + " |")
        L.append("|---|" + "---:|" * (len(a.sizes) - 1))
        L.append("| rows | " + " | ".join("%.1f" % (n / base) for n in a.sizes[1:]) + " |")
        for c, name in [("import", "savor import"), (BASELINES[0], "popularity-count (baseline)"),
                        (BASELINES[1], "sims"), ("default", "UP default, end to end"),
                        ("noeval", "UP training alone"), ("als", "UP iALS, total")]:
            L.append("| %s | " % name + " | ".join("%.2f" % (med(n, c) / med(base, c))
                                                  for n in a.sizes[1:]) + " |")
        L.append("| iALS s/iteration | " + " | ".join(
            "%.2f" % (attr(n, "als", "secondsPerIteration") /
                      attr(base, "als", "secondsPerIteration")) for n in a.sizes[1:]) + " |")
    if generic_n:
        g = res[generic_n]["generic"][0]
        gi = info[generic_n][-1]
        L.append("")
        L.append("- generic BLAS kernels: `OPENBLAS_CORETYPE=%s` (`%s`) trains iALS (model=als, "
                 "evaluation=off) at %s in %.1f s, %.3f s/iteration, against %.1f s, %.3f "
                 "s/iteration in the same repetition with savor's choice: **%.1fx** slower per "
                 "iteration" % (GENERIC, generic_ver, human(generic_n), g[0],
                                gi["generic"]["secondsPerIteration"], res[generic_n]["als"][-1][0],
                                gi["als"]["secondsPerIteration"],
                                gi["generic"]["secondsPerIteration"] /
                                gi["als"]["secondsPerIteration"]))
    print("\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())
