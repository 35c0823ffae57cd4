#!/bin/sh
# bench/train.sh: issue 3's speed bar. Times `savor train` on 1M, 5M and 20M
# synthetic interactions (50k users / 10k items, 100k / 20k, 150k / 30k):
# aws-user-personalization with default settings end to end (offline
# evaluation included), without the evaluation, and as iALS (-p model=als) for
# the time per iteration; aws-popularity-count and aws-sims for context; the
# import before them; the peak RSS of every process. Then a numpy/scipy iALS
# reference's time per iteration on the 1M set, and the targets with PASS/FAIL.
#
#   make -j2 && bench/train.sh [--sizes 1000000,5000000] [--reps N] [--reps-big N]
#                              [--generic-blas] [--ref-iterations N] [--no-ref]
#                              [--keep-csv] [--threads N]
#
# The inputs come from savor's own deterministic generator (`savor demo
# --generate-only`, seed 42) and go to bench/out/ (git-ignored) with the data
# directories. A data directory is removed after each repetition, the CSVs at
# the end unless --keep-csv. The full run takes an estimated 10-15 minutes on
# a quiet machine. Prints a markdown snippet for bench/RESULTS.md on stdout,
# progress on stderr. See bench/README.md.
#
# Always /usr/bin/python3 (Debian's, with python3-numpy and python3-scipy for
# the reference).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/train_bench.py "$@"
