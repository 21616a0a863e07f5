#!/bin/bash
# The page compressors alone (page-codecs.c) over a file's non-zero pages, alternating.
#   perf/floor/page-codecs.sh FILE [ROUNDS]    (from the repository; the first GiB of FILE)
# With native/page-deflate.c present (before libdeflate replaced it) it is measured too.
set -eu
here=$(dirname "$0")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
extra=()
if [ -f native/page-deflate.c ]; then extra=(-DWITH_PAGE_DEFLATE -Inative native/page-deflate.c); fi
cc -O3 -o "$out/page-codecs" "$here/page-codecs.c" "${extra[@]}" -ldeflate -llzo2 -lz
"$out/page-codecs" "$1" "${2:-3}"
