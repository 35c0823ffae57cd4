#!/bin/sh
# Installs every Debian 12 package savor needs to build, test, fuzz and benchmark.
# Idempotent: packages already present are left alone, so re-running it is cheap.
set -eu

PACKAGES="
build-essential pkgconf make
clang libclang-rt-14-dev llvm clang-format
libmicrohttpd-dev libjansson-dev libsqlite3-dev zlib1g-dev
libopenblas-dev liblapacke-dev libssl-dev libcmocka-dev
python3 python3-pandas python3-numpy python3-scipy
python3-boto3 awscli wrk curl
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
