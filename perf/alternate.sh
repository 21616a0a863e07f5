#!/bin/bash
# Wall time of shell commands run alternately, N rounds; prints each one's median, min and
# max in ms. Each command gets an output file appended as its last argument. With --cpu,
# the CPU time (user + system) instead: steadier than wall time on a shared, busy machine.
#   perf/alternate.sh [--cpu] N "CMD A" "CMD B" ...
#   perf/alternate.sh 10 "taskset -c 0 bin/cyclodump -d 31 .cache/fixtures/real-1g.vmcore" \
#                        "taskset -c 0 makedumpfile -d 31 .cache/fixtures/real-1g.vmcore"
set -u
cpu=0
if [ "$1" = --cpu ]; then cpu=1; shift; fi
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
    if [ $cpu = 1 ]; then
      /usr/bin/time -f '%U %S' -o "$out/t" bash -c "$cmd \"$out/dump\" > /dev/null 2>&1" || echo "failed: $cmd" >&2
      ms=$(awk '{printf "%d", ($1 + $2) * 1000}' "$out/t")
    else
      start=$(date +%s%N)
      eval "$cmd \"$out/dump\"" > /dev/null 2>&1 || echo "failed: $cmd" >&2
      end=$(date +%s%N)
      ms=$(( (end - start) / 1000000 ))
    fi
    times[k]="${times[k]:-} $ms"
    k=$((k + 1))
  done
done
what=$([ $cpu = 1 ] && echo "CPU " || true)
k=0
for cmd in "$@"; do
  echo "${times[k]}" | tr ' ' '\n' | grep . | sort -n \
    | awk -v c="$cmd" -v w="$what" '{a[NR]=$1} END {printf "%smedian %d ms (min %d, max %d)  %s\n", w, a[int((NR+1)/2)], a[1], a[NR], c}'
  k=$((k + 1))
done
