#!/bin/sh
# demo.sh: install what savor needs, build it, and run the demo
# (generate the creators' platform dataset, import it into ./savor-data and train
# two solution versions on it).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" build/savor
exec ./build/savor demo "$@"
