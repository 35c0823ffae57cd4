#!/usr/bin/python3
"""Benchmark `savor train` at 1M, 5M and 20M synthetic interactions.

usage: /usr/bin/python3 bench/train_bench.py [--sizes N,N,...] [--reps N] [--reps-big N]
                                             [--big N] [--threads N] [--generic-blas]
                                             [--savor PATH] [--out DIR] [--keep-csv]
                                             [--timeout S]

Run through bench/train.sh. Steps:

 1. For every size N, generate OUT/train-N/interactions.csv (and items.csv,
    users.csv, unused) with savor's own deterministic generator:
      savor demo --generate-only --csv-dir OUT/train-N --users 150000
                 --items 30000 --creators 3000 --events N --seed 42
    or reuse it when OUT/train-N/meta.json matches (same arguments, same
    savor binary). The generation is timed too (wall, peak RSS).
 2. Rounds: in round r every size with at least r repetitions runs once
    (sizes below --big get --reps, the others --reps-big), so a slow period
    on the machine hits all sizes alike. One repetition of size N:
      - a new empty data directory OUT/train-tmp.XXXX (removed afterwards,
        outside the timing); the CSV read once (page cache), untimed;
      - savor import --data-dir D -g bench -t INTERACTIONS interactions.csv
      - savor train --data-dir D -g bench -r aws-popularity-count  (baseline:
                                                 one pass over the data)
      - savor train --data-dir D -g bench -r aws-sims
      - savor train --data-dir D -g bench -r aws-user-personalization
                                     (defaults: ALS, 64 factors, 15 iterations)
      each timed wall-clock as a whole process (start-up, loading the
      interactions from the store, training, writing the model and the
      solution version), stdout/stderr captured; peak RSS and CPU (user+sys)
      of that one process from os.wait4().
    With --generic-blas, the last repetition of the 5M size (or the middle
    size) also trains aws-user-personalization with OPENBLAS_CORETYPE=Prescott
    (OpenBLAS' generic SSE3 kernels, which savor otherwise replaces itself).
 3. Checks: every command exits 0; after the import `savor describe` reports
    exactly N interactions; after training every solution version is ACTIVE
    and used N interactions (its trainingSeconds are recorded).
 4. Print a markdown snippet: medians per size, peak RSS (max over runs),
    seconds per ALS iteration, and the scaling ratios time(N)/time(smallest)
    between sizes of this same run.

Any failure (exit status, a signal such as the OOM killer's, --timeout) stops the
run with the command, the size and the tail of its stderr.
Stdlib only: Debian's /usr/bin/python3.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GEN = {"users": 150_000, "items": 30_000, "creators": 3_000, "seed": 42}
RECIPES = ["aws-popularity-count", "aws-sims", "aws-user-personalization"]
UP = "aws-user-personalization"
ITERATIONS = 15  # the aws-user-personalization default (docs/recipes.md)
GENERIC = "Prescott"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Failed(Exception):
    pass


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


def ensure_data(savor, savor_sha, out_dir, n, keep, timeout):
    d = os.path.join(out_dir, "train-%d" % n)
    meta_path = os.path.join(d, "meta.json")
    csv_path = os.path.join(d, "interactions.csv")
    want = dict(GEN, events=n, savor_sha=savor_sha)
    if keep and os.path.exists(meta_path) and os.path.exists(csv_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if all(meta.get(k) == v for k, v in want.items()) \
                and meta.get("csv_bytes") == os.path.getsize(csv_path):
            log("reusing %s" % csv_path)
            return csv_path, meta
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    argv = [savor, "demo", "--generate-only", "--csv-dir", d, "--users", str(GEN["users"]),
            "--items", str(GEN["items"]), "--creators", str(GEN["creators"]),
            "--events", str(n), "--seed", str(GEN["seed"])]
    log("generating %s (%d events) ..." % (csv_path, n))
    wall, rss, cpu, _ = run(argv, timeout=timeout, what="generating %d events" % n)
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


def one_rep(a, n, csv_path, generic):
    """One repetition at size n; returns {case: (wall, rss, cpu)} plus info."""
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
        threads = ["--threads", str(a.threads)] if a.threads else []
        for r in RECIPES:
            argv = [a.savor, "train", "--data-dir", d, "--dataset-group", "bench",
                    "--recipe", r] + threads
            wall, rss, cpu, out = run(argv, timeout=a.timeout,
                                      what="savor train -r %s at %s" % (r, label))
            if ":solution/" not in out:
                raise Failed("savor train -r %s at %s printed no solution version ARN: %r"
                             % (r, label, out[:200]))
            res[r] = (wall, rss, cpu)
        if generic:
            env = dict(os.environ, OPENBLAS_CORETYPE=GENERIC)
            argv = [a.savor, "train", "--data-dir", d, "--dataset-group", "bench",
                    "--recipe", UP, "--solution", "bench-generic-blas"] + threads
            log("  %s with OPENBLAS_CORETYPE=%s ..." % (UP, GENERIC))
            res["generic"] = run(argv, env=env, timeout=a.timeout,
                                 what="OPENBLAS_CORETYPE=%s savor train -r %s at %s"
                                 % (GENERIC, UP, label))[:3]
        secs = {}
        for s in describe(a.savor, d)["solutions"]:
            for v in s["solutionVersions"]:
                if v["status"] != "ACTIVE" or v.get("interactionsUsed") != n:
                    raise Failed("solution version %s at %s: status %s, interactionsUsed %s "
                                 "(expected ACTIVE, %d)" % (v["solutionVersionArn"], label,
                                                            v["status"], v.get("interactionsUsed"), n))
                secs[s["name"]] = v.get("trainingSeconds")
        info["trainingSeconds"] = secs
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
                    help="also train user-personalization once with OPENBLAS_CORETYPE=%s "
                    "at the middle size" % GENERIC)
    ap.add_argument("--savor", default=os.path.join(ROOT, "build", "savor"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--keep-csv", action="store_true",
                    help="keep the generated CSVs in OUT/train-N (and reuse them next time)")
    ap.add_argument("--timeout", type=int, default=3600, help="per process, seconds")
    a = ap.parse_args()
    a.sizes = sorted({int(x.replace("_", "")) for x in a.sizes.split(",") if x.strip()})
    if not a.sizes or a.sizes[0] < 1:
        sys.exit("--sizes: give positive interaction counts")
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


def bench(a, savor_path, savor_sha):
    started = datetime.datetime.now(datetime.timezone.utc)
    data = {n: ensure_data(a.savor, savor_sha, a.out, n, a.keep_csv, a.timeout) for n in a.sizes}
    reps = {n: (a.reps_big if n >= a.big else a.reps) for n in a.sizes}
    generic_n = None
    if a.generic_blas:
        generic_n = 5_000_000 if 5_000_000 in a.sizes else a.sizes[len(a.sizes) // 2]

    cases = ["import"] + RECIPES
    res = {n: {c: [] for c in cases + ["generic"]} for n in a.sizes}
    info = {}
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
            info.setdefault(n, inf)
            for c, v in r.items():
                res[n][c].append(v)
            log("  " + ", ".join("%s %.2fs (%.0f MiB)" % (c, v[0], v[1] / 1024)
                                 for c, v in r.items()))
    load_after = loadavg()

    def med(n, c, i=0):
        v = [x[i] for x in res[n][c]]
        return statistics.median(v) if v else None

    def peak(n, c):
        return max(x[1] for x in res[n][c]) / 1024.0

    def rng(n, c):
        v = [x[0] for x in res[n][c]]
        return "%.1f-%.1f s" % (min(v), max(v)) if len(v) > 1 else "-"

    savor_ver = subprocess.run([a.savor, "version"], capture_output=True,
                               text=True).stdout.strip().replace("\n", "; ")
    generic_ver = ""
    if generic_n:
        generic_ver = subprocess.run([a.savor, "version"], capture_output=True, text=True,
                                     env=dict(os.environ, OPENBLAS_CORETYPE=GENERIC)
                                     ).stdout.strip().splitlines()[-1]
    commit = a.commit
    base = a.sizes[0]
    L = []
    L.append("## Training (user-personalization, %s)" % " / ".join(human(n) for n in a.sizes))
    L.append("")
    L.append("- date: %s (run started %s)" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        started.strftime("%H:%M UTC")))
    L.append("- machine: %s" % machine())
    L.append("- savor: `%s`, git %s (plus any uncommitted changes), release build (`make -j2`, "
             "-O2), `%s` sha256 %s..." % (savor_ver or "?", commit or "?",
                                          os.path.relpath(savor_path, ROOT), savor_sha))
    L.append("- data: `savor demo --generate-only --csv-dir DIR --users %d --items %d "
             "--creators %d --events N --seed %d` (interactions.csv only)"
             % (GEN["users"], GEN["items"], GEN["creators"], GEN["seed"]))
    L.append("- commands, each timed as a whole process (wall clock; peak RSS and CPU from "
             "`os.wait4()`), a fresh data directory per repetition:")
    L.append("  `savor import --data-dir D -g bench -t INTERACTIONS DIR/interactions.csv`, then "
             "`savor train --data-dir D -g bench -r R%s` for R = %s (defaults: ALS, 64 factors, "
             "%d iterations, cg_steps 3)" % (" --threads %d" % a.threads if a.threads else "",
                                              ", ".join(RECIPES), ITERATIONS))
    L.append("- repetitions: %s, in rounds alternating the sizes; medians%s below (CPU: median "
             "of user+sys), peak RSS the max over runs"
             % (", ".join("%d at %s" % (reps[n], human(n)) for n in a.sizes),
                " (of 2: the mean)" if 2 in reps.values() else ""))
    L.append("- load average (1 min) before/after: %s / %s (the machine is shared; per size: %s)"
             % (load_before, load_after, "; ".join(
                 "%s %s" % (human(n), " ".join("%s>%s" % p for p in load[n])) for n in a.sizes)))
    L.append("")
    L.append("| interactions | users / items | CSV | generate | import | train popularity-count "
             "| train sims | train user-personalization | range (UP) | UP s/iteration (/%d) "
             "| UP CPU | UP CPU/wall |" % ITERATIONS)
    L.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in a.sizes:
        meta = data[n][1]
        L.append("| %s | %d / %d | %.0f MiB | %.1f s | %.2f s | %.2f s | %.2f s | **%.1f s** | %s "
                 "| %.2f s | %.1f s | %.2f |"
                 % (human(n), info[n]["users"], info[n]["items"], meta["csv_bytes"] / 2**20,
                    meta["gen_wall"], med(n, "import"), med(n, RECIPES[0]), med(n, RECIPES[1]),
                    med(n, UP), rng(n, UP), med(n, UP) / ITERATIONS, med(n, UP, 2),
                    med(n, UP, 2) / med(n, UP)))
    L.append("")
    L.append("Peak RSS (max over runs) and the data directory after training:")
    L.append("")
    L.append("| interactions | generate | import | train popularity-count | train sims "
             "| train user-personalization | data dir |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|")
    for n in a.sizes:
        L.append("| %s | %.0f MiB | %.0f MiB | %.0f MiB | %.0f MiB | **%.0f MiB** | %.0f MiB |"
                 % (human(n), data[n][1]["gen_rss_kib"] / 1024.0, peak(n, "import"),
                    peak(n, RECIPES[0]), peak(n, RECIPES[1]), peak(n, UP),
                    info[n]["store_bytes"] / 2**20))
    if len(a.sizes) > 1:
        L.append("")
        L.append("Scaling, same run (median time at N / median time at %s; linear would be N/%s):"
                 % (human(base), human(base)))
        L.append("")
        L.append("| command | " + " | ".join("%s/%s" % (human(n), human(base))
                                             for n in a.sizes[1:]) + " |")
        L.append("|---|" + "---:|" * (len(a.sizes) - 1))
        L.append("| (rows) | " + " | ".join("%.1f" % (n / base) for n in a.sizes[1:]) + " |")
        for c, name in [("import", "savor import"),
                        (RECIPES[0], "train popularity-count (baseline)"),
                        (RECIPES[1], "train sims"), (UP, "**train user-personalization**")]:
            L.append("| %s | " % name + " | ".join("%.2f" % (med(n, c) / med(base, c))
                                                  for n in a.sizes[1:]) + " |")
        L.append("| user-personalization minus popularity-count | " + " | ".join(
            "%.2f" % ((med(n, UP) - med(n, RECIPES[0])) / (med(base, UP) - med(base, RECIPES[0])))
            for n in a.sizes[1:]) + " |")
        L.append("| train user-personalization, CPU time (user+sys) | " + " | ".join(
            "%.2f" % (med(n, UP, 2) / med(base, UP, 2)) for n in a.sizes[1:]) + " |")
        L.append("| peak RSS, user-personalization | " + " | ".join(
            "%.2f" % (peak(n, UP) / peak(base, UP)) for n in a.sizes[1:]) + " |")
    L.append("")
    L.append("- user-personalization / popularity-count (in-run baseline) at each size: " +
             ", ".join("%s %.1f" % (human(n), med(n, UP) / med(n, RECIPES[0])) for n in a.sizes))
    L.append("- savor's own `trainingSeconds` for user-personalization (first repetition, from "
             "`savor describe`): " + ", ".join(
                 "%s %.1f s" % (human(n), info[n]["trainingSeconds"].get(
                     "bench-user-personalization") or float("nan")) for n in a.sizes))
    if generic_n:
        g = res[generic_n]["generic"][0]
        same = res[generic_n][UP][-1]
        L.append("- generic BLAS kernels: `OPENBLAS_CORETYPE=%s` (`%s`) trains user-personalization "
                 "at %s in %.1f s (peak RSS %.0f MiB), against %.1f s in the same repetition "
                 "with savor's choice: **%.1fx** slower"
                 % (GENERIC, generic_ver, human(generic_n), g[0], g[1] / 1024.0, same[0],
                    g[0] / same[0]))
    big = a.sizes[-1]
    L.append("- %s: user-personalization trains in %.1f min (import %.1f s) with a peak RSS of "
             "%.0f MiB" % (human(big), med(big, UP) / 60, med(big, "import"), peak(big, UP)))
    print("\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())
