#!/bin/sh
# bench/filter.sh: the cost of filters (EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN
# ("*"), and INCLUDE ItemID WHERE Items.GENRES IN ($G)) relative to unfiltered
# recommendations, at the model_recommend() level and through savor serve with wrk
# (bar: >= 80% of unfiltered throughput), on the serving benchmark's catalog.
#
#   make -j2 && bench/filter.sh [--reps N] [--requests N] [--no-http] [--rounds N]
#
# Prints a markdown snippet for bench/RESULTS.md on stdout, progress on stderr.
# See bench/README.md. Always /usr/bin/python3 (boto3 for the HTTP part).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/filter_bench.py "$@"
