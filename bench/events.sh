#!/bin/sh
# bench/events.sh: durable PutEvents throughput with many concurrent clients
# (wrk posting 10 events per call to `savor serve`), checked against the store.
#
#   make -j2 && bench/events.sh [--seconds N] [--rounds N] [--connections N] [--server-threads N]
#
# Prints a markdown snippet for bench/RESULTS.md on stdout, progress on
# stderr. The bar (brief, section 6): >= 10,000 events/s with durability on.
# See bench/README.md.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/events_bench.py "$@"
