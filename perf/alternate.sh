#!/bin/bash
# Wall time of shell commands run alternately, N rounds; prints each one's median, min and
# max in ms. Each command gets an output file appended as its last argument.
#   perf/alternate.sh N "CMD A" "CMD B" ...
#   perf/alternate.sh 10 "taskset -c 0 bin/cyclodump -d 31 .cache/fixtures/real-1g.vmcore" \
#                        "taskset -c 0 makedumpfile -d 31 .cache/fixtures/real-1g.vmcore"
set -u
rounds=$1
shift
unset NODE_EXTRA_CA_CERTS
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -a times
for _ in $(seq "$rounds"); do
  k=0
  for cmd in "$@"; do
    rm -f "$out/dump"
    start=$(date +%s%N)
    eval "$cmd \"$out/dump\"" > /dev/null 2>&1 || echo "failed: $cmd" >&2
    end=$(date +%s%N)
    times[k]="${times[k]:-} $(( (end - start) / 1000000 ))"
    k=$((k + 1))
  done
done
k=0
for cmd in "$@"; do
  echo "${times[k]}" | tr ' ' '\n' | grep . | sort -n \
    | awk -v c="$cmd" '{a[NR]=$1} END {printf "median %d ms (min %d, max %d)  %s\n", a[int((NR+1)/2)], a[1], a[NR], c}'
  k=$((k + 1))
done
