#!/bin/sh
# bench/train.sh: time `savor train` (aws-user-personalization, aws-sims and the
# aws-popularity-count baseline) on 1M, 5M and 20M synthetic interactions, with
# the import before it and the peak RSS of every process.
#
#   make -j2 && bench/train.sh [--sizes 1000000,5000000] [--reps N] [--reps-big N]
#                              [--generic-blas] [--keep-csv]
#
# The inputs come from savor's own deterministic generator (`savor demo
# --generate-only`, 150,000 users, 30,000 items, seed 42) and go to bench/out/
# (git-ignored) with the data directories. A data directory is removed after
# each repetition, the CSVs at the end unless --keep-csv. At 20M the CSV is
# about 0.8 GB and the data directory about 0.8 GB. Takes about 6 minutes with
# the defaults. Prints a markdown snippet for bench/RESULTS.md on stdout,
# progress on stderr. See bench/README.md.
#
# Always /usr/bin/python3 (Debian's; stdlib only here).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/train_bench.py "$@"
