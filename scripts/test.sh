#!/bin/sh
# test.sh: install what savor needs, build it, and run the whole test suite
# (unit, CLI, fuzz and sanitizer runs; see tests/run.sh).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
exec sh tests/run.sh "$@"
