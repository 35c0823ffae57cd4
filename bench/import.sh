#!/bin/sh
# bench/import.sh: time `savor import` of a 1M-row Personalize interactions CSV
# against pandas.read_csv of the same file, and report peak RSS.
#
#   make -j2 && bench/import.sh [--reps N] [--rows N] [--no-pandas]
#
# The input (bench/out/interactions-1000000.csv and .csv.gz, git-ignored) is
# generated on the first run (seeded, always the same bytes) and reused after.
# Prints a markdown snippet for bench/RESULTS.md on stdout, progress on
# stderr. Exits 3 if savor/pandas is above the 0.5 bar. See bench/README.md.
#
# Always /usr/bin/python3 (Debian's, with python3-pandas): the python3 on PATH
# may be a pyenv interpreter without pandas.
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
if ! "$PY" -c 'import pandas' 2>/dev/null; then
    echo "bench/import.sh: $PY cannot import pandas (apt-get install python3-pandas)" >&2
    exit 2
fi
exec "$PY" bench/import_bench.py "$@"
