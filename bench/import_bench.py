#!/usr/bin/python3
"""Benchmark `savor import` against pandas.read_csv on a 1M-row interactions CSV.

usage: /usr/bin/python3 bench/import_bench.py [--reps N] [--rows N] [--savor PATH]
                                              [--out DIR] [--no-pandas]

Run through bench/import.sh. Steps:

 1. Generate OUT/interactions-<rows>.csv with bench/gen_interactions.py (and a
    .csv.gz of it), or reuse them when OUT/...csv.meta matches the arguments.
 2. Read both files once (page cache) and run each command once untimed.
 3. N repetitions, alternating within each one:
      savor-csv     savor import --data-dir <fresh dir> --dataset-group bench
                      --type INTERACTIONS FILE.csv      (stdout/stderr to /dev/null)
      pandas-csv    /usr/bin/python3 -c 'pandas.read_csv(FILE.csv)': only the
                      read_csv call, timed by time.perf_counter() in the child
      savor-csv.gz  as savor-csv, on FILE.csv.gz
      pandas-csv.gz as pandas-csv, on FILE.csv.gz
    savor is timed wall-clock around the whole process (start-up, parse, store
    write and commit). Each savor run gets a new empty data directory, created
    beforehand and removed afterwards, outside the timing. The peak RSS of each
    child comes from os.wait4() (the kernel's ru_maxrss for that one process).
 4. After the first savor run, `savor describe` must report exactly the rows,
    users and items the generator wrote, or the benchmark fails.
 5. Print the medians as a markdown snippet, with savor/pandas ratios.

Needs pandas: use Debian's /usr/bin/python3 (python3-pandas), not a pyenv one.
"""

import argparse
import datetime
import gzip
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GEN = os.path.join(HERE, "gen_interactions.py")
PY = "/usr/bin/python3"
BAR = 0.5
PANDAS_CHILD = (
    "import sys, time, pandas\n"
    "t, c = time.perf_counter(), time.process_time()\n"
    "df = pandas.read_csv(sys.argv[1])\n"
    "dt, dc = time.perf_counter() - t, time.process_time() - c\n"
    "print(dt, dc, len(df))\n"
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(argv, stdout=subprocess.DEVNULL, stdin=None):
    """Run argv; return (wall s, exit status, peak RSS KiB, stdout bytes, CPU s)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL)
    out = b""
    if stdout == subprocess.PIPE:
        out = p.stdout.read()
        p.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    return wall, p.returncode, ru.ru_maxrss, out, ru.ru_utime + ru.ru_stime


def ensure_data(out_dir, rows):
    csv_path = os.path.join(out_dir, "interactions-%d.csv" % rows)
    gz_path = csv_path + ".gz"
    meta_path = csv_path + ".meta"
    want = {"rows": rows, "users": 100_000, "items": 20_000, "seed": 20240601}
    meta = None
    if os.path.exists(csv_path) and os.path.exists(gz_path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if any(meta.get(k) != v for k, v in want.items()) or meta.get("version") != 1 \
                or os.path.getmtime(gz_path) < os.path.getmtime(csv_path):
            meta = None
    if meta is None:
        os.makedirs(out_dir, exist_ok=True)
        log("generating %s ..." % csv_path)
        subprocess.run([PY, GEN, "--rows", str(rows), "--users", str(want["users"]),
                        "--items", str(want["items"]), "--seed", str(want["seed"]), csv_path],
                       check=True)
        log("compressing %s ..." % gz_path)
        with open(csv_path, "rb") as src, open(gz_path + ".tmp", "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(gz_path + ".tmp", gz_path)
        with open(meta_path) as f:
            meta = json.load(f)
    else:
        log("reusing %s" % csv_path)
    return csv_path, gz_path, meta


def savor_once(savor, path, verify=None):
    d = tempfile.mkdtemp(prefix="savor-bench.")
    try:
        wall, rc, rss, _, cpu = run([savor, "import", "--data-dir", d, "--dataset-group", "bench",
                                "--type", "INTERACTIONS", path])
        if rc != 0:
            sys.exit("savor import %s failed with exit status %d (rerun it by hand to see why)"
                     % (path, rc))
        if verify:
            check_store(savor, d, verify)
        return wall, rss, cpu
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_store(savor, d, meta):
    out = subprocess.run([savor, "describe", "--data-dir", d, "--dataset-group", "bench"],
                         check=True, capture_output=True).stdout
    ds = json.loads(out)["datasetGroups"][0]["datasets"]
    st = [x for x in ds if x["datasetType"] == "Interactions"][0]["statistics"]
    got = (st["interactions"], st["users"], st["items"])
    want = (meta["rows"], meta["distinct"]["users"], meta["distinct"]["items"])
    if got != want:
        sys.exit("savor describe: (interactions, users, items) = %s, expected %s" % (got, want))
    log("verified: savor stored %d interactions, %d users, %d items" % got)


def pandas_once(path, rows):
    _, rc, rss, out, _ = run([PY, "-c", PANDAS_CHILD, path], stdout=subprocess.PIPE)
    if rc != 0:
        sys.exit("pandas.read_csv(%s) failed with exit status %d (is python3-pandas "
                 "installed for %s?)" % (path, rc, PY))
    secs, cpu, n = out.split()
    if int(n) != rows:
        sys.exit("pandas.read_csv(%s) read %s rows, expected %d" % (path, n, rows))
    return float(secs), rss, float(cpu)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def mib(kib):
    return kib / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--savor", default=os.path.join(ROOT, "build", "savor"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--no-pandas", action="store_true", help="time savor only")
    a = ap.parse_args()
    if not os.access(a.savor, os.X_OK):
        sys.exit("%s: not found; build it first with `make -j2`" % a.savor)

    # Time a private copy: other work may relink build/savor during the run.
    snap_dir = tempfile.mkdtemp(prefix="savor-bench-bin.")
    savor_path = a.savor
    a.savor = os.path.join(snap_dir, "savor")
    shutil.copy2(savor_path, a.savor)
    with open(a.savor, "rb") as f:
        savor_sha = hashlib.sha256(f.read()).hexdigest()[:12]
    try:
        return bench(a, savor_path, savor_sha)
    finally:
        shutil.rmtree(snap_dir, ignore_errors=True)


def bench(a, savor_path, savor_sha):
    csv_path, gz_path, meta = ensure_data(a.out, a.rows)
    rows = meta["rows"]
    for p in (csv_path, gz_path):  # page cache
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass

    cases = [("savor import .csv", lambda v=None: savor_once(a.savor, csv_path, v)),
             ("pandas.read_csv .csv", lambda v=None: pandas_once(csv_path, rows)),
             ("savor import .csv.gz", lambda v=None: savor_once(a.savor, gz_path, v)),
             ("pandas.read_csv .csv.gz", lambda v=None: pandas_once(gz_path, rows))]
    if a.no_pandas:
        cases = [c for c in cases if not c[0].startswith("pandas")]
    load_before = loadavg()
    log("warm-up (untimed), verifying the stored counts ...")
    for name, fn in cases:
        fn(meta if name.startswith("savor") else None)

    times = {name: [] for name, _ in cases}
    rss = {name: [] for name, _ in cases}
    cpu = {name: [] for name, _ in cases}
    for rep in range(1, a.reps + 1):
        for name, fn in cases:
            t, r, c = fn()
            times[name].append(t)
            rss[name].append(r)
            cpu[name].append(c)
        log("rep %d/%d: %s" % (rep, a.reps, ", ".join(
            "%s %.3fs" % (n, times[n][-1]) for n, _ in cases)))

    load_after = loadavg()
    med = {n: statistics.median(v) for n, v in times.items()}
    size_csv = os.path.getsize(csv_path)
    size_gz = os.path.getsize(gz_path)
    savor_ver = subprocess.run([a.savor, "version"], capture_output=True, text=True).stdout.strip()
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    try:
        pandas_ver = subprocess.run([PY, "-c", "import pandas; print(pandas.__version__)"],
                                    capture_output=True, text=True).stdout.strip()
    except OSError:
        pandas_ver = "?"
    cpu_model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def ratio(num, den):
        return med[num] / med[den] if num in med and den in med and med[den] > 0 else None

    r_csv = ratio("savor import .csv", "pandas.read_csv .csv")
    r_gz = ratio("savor import .csv.gz", "pandas.read_csv .csv.gz")
    lines = []
    lines.append("## Import (1M rows)" if rows == 1_000_000 else "## Import (%d rows)" % rows)
    lines.append("")
    lines.append("- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    lines.append("- machine: %d cores (%s), %s %s, Python %s, pandas %s"
                 % (os.cpu_count() or 0, cpu_model, platform.system(), platform.release(),
                    platform.python_version(), pandas_ver))
    lines.append("- savor: %s, git %s (plus any uncommitted changes), release build (`make -j2`, -O2), "
                 "`%s` sha256 %s..." % (savor_ver or "?", commit or "?",
                                        os.path.relpath(savor_path, ROOT), savor_sha))
    lines.append("- file: `%s`, %d rows + header, %d distinct users, %d distinct items, "
                 "%.1f MiB (%d bytes); .csv.gz %.1f MiB"
                 % (os.path.relpath(csv_path, ROOT), rows, meta["distinct"]["users"],
                    meta["distinct"]["items"], size_csv / 2**20, size_csv, size_gz / 2**20))
    lines.append("- %d repetitions, alternating, after one untimed warm-up of each; file in the "
                 "page cache; a fresh data directory (in %s) for every savor run"
                 % (a.reps, tempfile.gettempdir()))
    lines.append("- load average (1 min) before/after: %s / %s (other processes on the machine "
                 "add noise; rerun when it is high)" % (load_before, load_after))
    lines.append("- commands: `build/savor import --data-dir <fresh tmp dir> --dataset-group bench "
                 "--type INTERACTIONS FILE >/dev/null 2>&1` (wall time of the whole process); "
                 "`/usr/bin/python3 -c 'pandas.read_csv(FILE)'` (only read_csv, "
                 "time.perf_counter() in the child)")
    lines.append("")
    lines.append("| command | median | min | max | CPU median | MB/s (csv bytes) | rows/s | "
                 "peak RSS (max) |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, _ in cases:
        m = med[name]
        lines.append("| %s | %.3f s | %.3f s | %.3f s | %.3f s | %.0f | %.2fM | %.1f MiB |"
                     % (name, m, min(times[name]), max(times[name]),
                        statistics.median(cpu[name]), size_csv / 1e6 / m,
                        rows / m / 1e6, mib(max(rss[name]))))
    lines.append("")
    if r_csv is not None:
        lines.append("- ratio savor/pandas (.csv medians): **%.2f** (bar: <= %.1f: %s)"
                     % (r_csv, BAR, "met" if r_csv <= BAR else "NOT met"))
    if r_gz is not None:
        lines.append("- ratio savor/pandas (.csv.gz medians): %.2f" % r_gz)
    lines.append("- savor import peak RSS: %.1f MiB (.csv), %.1f MiB (.csv.gz) (max over runs)"
                 % (mib(max(rss["savor import .csv"])), mib(max(rss["savor import .csv.gz"]))))
    lines.append("- CPU is user+sys: of the whole process for savor (it parses on a second "
                 "thread, so CPU can exceed wall time), of the read_csv call for pandas")
    if not a.no_pandas:
        lines.append("- pandas peak RSS is the whole child: interpreter, `import pandas` and the "
                     "DataFrame")
    print("\n".join(lines))
    return 0 if r_csv is None or r_csv <= BAR else 3


if __name__ == "__main__":
    sys.exit(main())
