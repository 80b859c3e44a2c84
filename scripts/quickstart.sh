#!/bin/sh
# The README's two commands:
#   sh scripts/quickstart.sh demo   install, build, and run record -> replay ->
#                                   simulate -> report on the bundled example
#   sh scripts/quickstart.sh test   install, build, and run every test
set -eu
cd "$(dirname "$0")/.."
what=${1:-}
case $what in
demo|test) ;;
*) echo "usage: sh scripts/quickstart.sh demo|test" >&2; exit 2 ;;
esac
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
if [ "$what" = demo ]; then
  exec sh scripts/demo.sh build out
fi
sh scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
cd build && ctest --output-on-failure -j2 --timeout 600 # a hung test fails, not the whole run
