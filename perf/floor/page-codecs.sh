#!/bin/bash
# The page compressors alone (page-codecs.c) over a file's non-zero pages, alternating.
#   perf/floor/page-codecs.sh FILE [ROUNDS]    (from the repository; the first GiB of FILE)
# The encoder libdeflate replaced is measured too when PAGE_DEFLATE_DIR holds its
# page-deflate.c and .h (git show 1bfa6bc:native/page-deflate.c, and .h).
set -eu
here=$(dirname "$0")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
extra=()
if [ -n "${PAGE_DEFLATE_DIR:-}" ]; then extra=(-DWITH_PAGE_DEFLATE "-I$PAGE_DEFLATE_DIR" "$PAGE_DEFLATE_DIR/page-deflate.c"); fi
cc -O3 -o "$out/page-codecs" "$here/page-codecs.c" "${extra[@]}" -ldeflate -llzo2 -lz
"$out/page-codecs" "$1" "${2:-3}"
