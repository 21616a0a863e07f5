#!/bin/bash
# Like alternate.sh, but the CPU time (user + system, children included) of each command:
# steadier than wall time on a shared, busy machine. Prints each one's median, min, max.
#   perf/alternate-cpu.sh N "CMD A" "CMD B" ...    (each gets an output file as last argument)
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
    /usr/bin/time -f '%U %S' -o "$out/t" bash -c "$cmd \"$out/dump\" > /dev/null 2>&1" || echo "failed: $cmd" >&2
    times[k]="${times[k]:-} $(awk '{printf "%d", ($1 + $2) * 1000}' "$out/t")"
    k=$((k + 1))
  done
done
k=0
for cmd in "$@"; do
  echo "${times[k]}" | tr ' ' '\n' | grep . | sort -n \
    | awk -v c="$cmd" '{a[NR]=$1} END {printf "CPU median %d ms (min %d, max %d)  %s\n", a[int((NR+1)/2)], a[1], a[NR], c}'
  k=$((k + 1))
done
