"""catalog.py: the serving benchmark's catalog, shared by bench/batch_bench.py and
bench/filter_bench.py: 30,000 works, 50,000 readers, 1,000,000 events from
`savor demo --generate-only` (seed 42, the same files as bench/serve_bench.py),
imported into a fresh data directory and trained with aws-user-personalization's
defaults."""
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("+ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    except Exception:
        return "?"


def csv_dir(savor, items, users, events):
    os.makedirs(OUT, exist_ok=True)
    d = os.path.join(OUT, "serve-csv-%d-%d-%d" % (items, users, events))
    if not os.path.exists(os.path.join(d, "interactions.csv")):
        run([savor, "demo", "--generate-only", "--csv-dir", d, "--items", str(items), "--users",
             str(users), "--creators", str(items // 10), "--events", str(events), "--seed",
             "42"], stdout=subprocess.DEVNULL)
    return d


def user_ids(d):
    with open(os.path.join(d, "users.csv"), newline="") as f:
        return [row["USER_ID"] for row in csv.DictReader(f)]


def common_genre(d):
    counts = {}
    with open(os.path.join(d, "items.csv"), newline="") as f:
        for row in csv.DictReader(f):
            for g in row["GENRES"].split("|"):
                counts[g] = counts.get(g, 0) + 1
    return max(sorted(counts), key=counts.get), counts


def trained(savor, d):
    """A fresh data directory with the catalog imported and trained: (dir, version, seconds)."""
    os.makedirs(OUT, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="bench-data.", dir=OUT)
    for t, name in (("ITEMS", "items.csv"), ("INTERACTIONS", "interactions.csv")):
        run([savor, "import", "--data-dir", data_dir, "-g", "bench", "-t", t,
             os.path.join(d, name)], stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    version = run([savor, "train", "--data-dir", data_dir, "-g", "bench", "-r",
                   "aws-user-personalization"], stdout=subprocess.PIPE,
                  text=True).stdout.strip().splitlines()[-1]
    return data_dir, version, time.monotonic() - t0


def serve_campaign(savor, data_dir, version, serve_args=(), prefix=()):
    """savor serve on a free loopback port with campaign "bench" ACTIVE on the version.

    Returns (server process, endpoint, personalize client, runtime client, campaign ARN);
    the server's log goes to DATA_DIR/server.log. Stop it with stop_server().
    """
    import boto3
    import botocore.config
    server_log = open(os.path.join(data_dir, "server.log"), "w")
    server = subprocess.Popen(list(prefix) + [savor, "serve", "--data-dir", data_dir, "--listen",
                                              "127.0.0.1:0"] + list(serve_args),
                              stdout=subprocess.PIPE, stderr=server_log, text=True)
    m = re.search(r"serving on (http://\S+)", server.stdout.readline())
    if not m:
        stop_server(server)
        raise SystemExit("savor serve did not start; see %s/server.log" % data_dir)
    endpoint = m.group(1)
    cfg = botocore.config.Config(retries={"max_attempts": 1})
    p = boto3.client("personalize", endpoint_url=endpoint, config=cfg)
    rt = boto3.client("personalize-runtime", endpoint_url=endpoint, config=cfg)
    campaign = p.create_campaign(name="bench", solutionVersionArn=version)["campaignArn"]
    deadline = time.monotonic() + 120
    while p.describe_campaign(campaignArn=campaign)["campaign"]["status"] != "ACTIVE":
        if time.monotonic() > deadline:
            stop_server(server)
            raise SystemExit("campaign not ACTIVE after 120 s")
        time.sleep(0.2)
    return server, endpoint, p, rt, campaign


def stop_server(server):
    """SIGTERM, then SIGKILL after 30 s."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
