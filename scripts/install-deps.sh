#!/bin/sh
# Installs what the suite needs to build, test and benchmark, from Debian 12's
# archive. Safe to run again: apt-get skips what is already there.
set -eu
pkgs="build-essential cmake pkg-config zstd libzstd-dev libunwind-dev uthash-dev
  libdw-dev libelf-dev gnuplot-nox file
  libgoogle-perftools4 libtcmalloc-minimal4 libjemalloc2 libjemalloc-dev libmimalloc2.0 libmimalloc-dev
  clang libclang-rt-14-dev heaptrack perl python3 sqlite3"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
