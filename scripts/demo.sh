#!/bin/sh
# demo.sh: install what savor needs, build it, and run the demo: generate the
# creators' platform dataset, import it into ./savor-data, train two solution
# versions, deploy a campaign, and serve the Personalize API on
# http://127.0.0.1:8080 (Ctrl-C stops it) with curl, AWS CLI and boto3 lines to
# try from another terminal. Options go to `savor demo` (e.g. --listen, or --no-serve
# to stop after the campaign).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" build/savor
exec ./build/savor demo --serve "$@"
