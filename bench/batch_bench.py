#!/usr/bin/python3
"""batch_bench.py: savor batch throughput (users/s), 25 results each, on the serving
benchmark's catalog (bench/catalog.py). See bench/batch.sh and bench/README.md.

Runs `savor batch` over every reader (50,000 lines by default) with --threads 2 (the
bar: >= 20,000 users/s on 2 cores) and --threads 1, alternating, --reps times each;
checks every run wrote one answer of 25 items per line and that both thread counts
wrote the same file; prints a markdown snippet with wall-clock users/s (median), CPU
seconds, and the machine's load (other processes on a shared machine take cores).
"""
import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import time

import catalog
from catalog import log, median


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--savor", default=os.path.join(catalog.ROOT, "build", "savor"))
    ap.add_argument("--items", type=int, default=30000)
    ap.add_argument("--users", type=int, default=50000)
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()

    d = catalog.csv_dir(args.savor, args.items, args.users, args.events)
    users = catalog.user_ids(d)
    data_dir, version, train_s = catalog.trained(args.savor, d)
    log("trained %s in %.1f s" % (version, train_s))
    inp = os.path.join(data_dir, "users.jsonl")
    with open(inp, "w") as f:
        for u in users:
            f.write(json.dumps({"userId": u}) + "\n")
    runs = {1: [], 2: []}
    digests = {}
    load_before = catalog.loadavg()
    try:
        for rep in range(args.reps):
            for threads in (2, 1):
                out = os.path.join(data_dir, "out-%d.jsonl" % threads)
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.monotonic()
                subprocess.run([args.savor, "batch", "--data-dir", data_dir, "-v", version, "-i",
                                inp, "-o", out, "-n", "25", "--threads", str(threads)],
                               check=True, stderr=subprocess.DEVNULL)
                wall = time.monotonic() - t0
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
                h = hashlib.sha256()
                lines = 0
                with open(out, "rb") as f:
                    for line in f:
                        lines += 1
                        h.update(line)
                        if lines <= 100 or lines % 997 == 0:
                            o = json.loads(line)
                            assert o["error"] is None and len(o["output"]["recommendedItems"]) == 25
                assert lines == len(users), (lines, len(users))
                digests.setdefault(threads, set()).add(h.hexdigest())
                runs[threads].append((wall, cpu))
                log("rep %d threads %d: %.2f s wall, %.2f s CPU, %.0f users/s"
                    % (rep + 1, threads, wall, cpu, len(users) / wall))
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    load_after = catalog.loadavg()
    same = len(digests[1] | digests[2]) == 1
    ups = {t: len(users) / median([w for w, _ in runs[t]]) for t in runs}
    cpu_per_user = {t: median([c for _, c in runs[t]]) / len(users) for t in runs}
    met = ups[2] >= 20000
    print("**%s: %s, %.0f users/s with 2 threads** (git %s)\n"
          % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "met" if met else "NOT met",
             ups[2], catalog.git_rev()))
    print("- machine: %d cores (%s), Linux %s; load average (1 min) before/after: %.2f / %.2f"
          % (os.cpu_count(), catalog.cpu_model(), platform.release(), load_before, load_after))
    print("- catalog: %d works, %d readers, %d events (savor demo --generate-only, seed 42); "
          "aws-user-personalization with its defaults, trained in %.1f s"
          % (args.items, args.users, args.events, train_s))
    print("- command: `savor batch -v VERSION -i users.jsonl -o out.jsonl -n 25 --threads T`, "
          "one line per reader (%d lines), %d repetitions alternating T = 2, 1" %
          (len(users), args.reps))
    print("")
    print("| threads | median wall | users/s | CPU per 1,000 users | users/s per CPU-second |")
    print("|---:|---:|---:|---:|---:|")
    for t in (2, 1):
        print("| %d | %.2f s | %.0f | %.3f s | %.0f |"
              % (t, median([w for w, _ in runs[t]]), ups[t], cpu_per_user[t] * 1000,
                 1 / cpu_per_user[t]))
    print("")
    print("- bar: >= 20,000 users/s on 2 cores: %s" % ("met" if met else "NOT met"))
    print("- scaling 1 -> 2 threads: %.2fx" % (ups[2] / ups[1]))
    print("- same output for 1 and 2 threads in every run: %s" % ("yes" if same else "NO"))


if __name__ == "__main__":
    main()
