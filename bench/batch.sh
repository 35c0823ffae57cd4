#!/bin/sh
# bench/batch.sh: savor batch users/s (25 results each) on the serving benchmark's
# catalog (30,000 works), with 2 threads (bar: >= 20,000 users/s) and 1.
#
#   make -j2 && bench/batch.sh [--reps N] [--users N] [--keep]
#
# Prints a markdown snippet for bench/RESULTS.md on stdout, progress on stderr.
# See bench/README.md. Always /usr/bin/python3 (Debian's; stdlib only here).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/batch_bench.py "$@"
