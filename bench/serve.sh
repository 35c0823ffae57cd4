#!/bin/sh
# bench/serve.sh: GetRecommendations (25 results, 30,000-item catalog, a random
# known user per request) against the same server's constant /healthz, with
# wrk, in one run. Bar: GetRecommendations reaches >= 0.5x the requests/s of
# /healthz; p50/p99 latency reported.
#
#   make -j2 && bench/serve.sh [--seconds 10] [--rounds 2] [--connections 16]
#                              [--items 30000] [--users 50000] [--events 1000000]
#                              [--user-pool 5000]
#
# Generates the catalog with savor's own generator (bench/out/serve-csv-*, kept),
# imports and trains aws-user-personalization with defaults in a fresh data
# directory under bench/out/, serves it, creates a campaign with boto3 and runs
# wrk. About 2 minutes. Prints a markdown snippet for bench/RESULTS.md on
# stdout, progress on stderr; exits 3 when the bar is not met. See bench/README.md.
set -eu
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench/serve.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
exec nice /usr/bin/python3 bench/serve_bench.py "$@"
