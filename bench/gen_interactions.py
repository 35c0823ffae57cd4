#!/usr/bin/env python3
"""Generate a deterministic synthetic Personalize interactions CSV.

usage: bench/gen_interactions.py [--rows N] [--users N] [--items N] [--seed S] OUT.csv

Header USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP, then N rows:

  USER_ID      "u-" + 12 random hex digits; --users distinct IDs, picked with a
               mild skew (weight rank^-0.5), so nearly all of them occur
  ITEM_ID      "item-<n>", n in 1..--items, Zipf-like popularity (weight
               rank^-1.0 over a seeded shuffle of the items)
  EVENT_TYPE   click 60%, watch 30%, purchase 10%
  EVENT_VALUE  empty for 10% of rows, else a value in [0, 100) written with
               1 or 2 decimals ("37.5", "3.14")
  TIMESTAMP    epoch seconds over 2023, non-decreasing on average with up to
               an hour of jitter (so not strictly sorted)

The same arguments always produce the same bytes (random.Random(seed); no
dependence on hash seeds or the clock). Also writes OUT.csv.meta (JSON: the
arguments, the generator version and the distinct user/item counts, which the
benchmark uses to check what savor imported). Stdlib only.
"""

import argparse
import bisect
import itertools
import json
import os
import random
import sys

VERSION = 1
START = 1672531200  # 2023-01-01T00:00:00Z
SPAN = 365 * 86400
EVENT_TYPES = ["click", "watch", "purchase"]
EVENT_CUM = [60, 90, 100]


def cum_weights(n, exponent):
    return list(itertools.accumulate((r + 1) ** -exponent for r in range(n)))


def generate(path, rows, users, items, seed):
    rng = random.Random(seed)
    ids = set()
    user_ids = []
    while len(user_ids) < users:
        u = "u-%012x" % rng.getrandbits(48)
        if u not in ids:
            ids.add(u)
            user_ids.append(u)
    item_ids = ["item-%d" % (i + 1) for i in range(items)]
    rng.shuffle(item_ids)  # popularity rank -> item number

    ucum = cum_weights(users, 0.5)
    icum = cum_weights(items, 1.0)
    utotal, itotal = ucum[-1], icum[-1]
    step = SPAN / rows
    seen_u, seen_i = set(), set()
    tmp = path + ".tmp"
    rand = rng.random
    with open(tmp, "w", encoding="ascii", newline="") as f:
        f.write("USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\n")
        buf = []
        for i in range(rows):
            u = user_ids[bisect.bisect_right(ucum, rand() * utotal)]
            it = item_ids[bisect.bisect_right(icum, rand() * itotal)]
            seen_u.add(u)
            seen_i.add(it)
            e = EVENT_TYPES[bisect.bisect_right(EVENT_CUM, rand() * 100)]
            r = rand()
            if r < 0.10:
                v = ""
            elif r < 0.55:
                v = "%.1f" % (rand() * 100)
            else:
                v = "%.2f" % (rand() * 100)
            ts = START + int(i * step + (rand() - 0.5) * 7200)
            buf.append("%s,%s,%s,%s,%d\n" % (u, it, e, v, ts))
            if len(buf) >= 65536:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    os.replace(tmp, path)
    return {"users": len(seen_u), "items": len(seen_i)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("out")
    a = ap.parse_args()
    distinct = generate(a.out, a.rows, a.users, a.items, a.seed)
    meta = {"version": VERSION, "rows": a.rows, "users": a.users, "items": a.items,
            "seed": a.seed, "distinct": distinct}
    with open(a.out + ".meta", "w") as f:
        json.dump(meta, f, sort_keys=True)
        f.write("\n")
    print("%s: %d rows, %d distinct users, %d distinct items"
          % (a.out, a.rows, distinct["users"], distinct["items"]), file=sys.stderr)


if __name__ == "__main__":
    main()
