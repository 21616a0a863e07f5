#!/bin/bash
# Pass 2 of `-d 1` without a codec: cyclodump against the C floor (write-floor.c) and
# makedumpfile's whole run, alternating, medians of N rounds.
#   perf/floor/compare.sh VMCORE [N]     (run from the repository, after npm run build)
set -eu
vmcore=$1
rounds=${2:-7}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
unset NODE_EXTRA_CA_CERTS
cc -O2 -pthread -o "$out/write-floor" "$(dirname "$0")/write-floor.c"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for i in $(seq "$rounds"); do
  for m in copy direct nowrite; do
    rm -f "$out/o"; "$out/write-floor" $m "$vmcore" "$out/o" | awk -v m=$m '{print m, $(NF-1)}' >> "$out/log"
  done
  rm -f "$out/o"
  bin/cyclodump -d 1 --num-threads 1 --message-level 31 "$vmcore" "$out/o" 2>&1 \
    | sed -n 's/.*write \([0-9.]*\) s.*/cyclodump-pass2 \1/p' >> "$out/log"
  rm -f "$out/o"
  /usr/bin/time -f '%e' -o "$out/t" bin/cyclodump -d 1 --num-threads 1 "$vmcore" "$out/o" > /dev/null 2>&1
  echo "cyclodump-wall $(cat "$out/t")" >> "$out/log"
  rm -f "$out/o"
  /usr/bin/time -f '%e' -o "$out/t" makedumpfile -d 1 "$vmcore" "$out/o" > /dev/null 2>&1
  echo "makedumpfile-wall $(cat "$out/t")" >> "$out/log"
done
rm -f "$out/o"
for k in copy direct nowrite cyclodump-pass2 cyclodump-wall makedumpfile-wall; do
  echo "$k: median $(grep "^$k " "$out/log" | awk '{print $2}' | median) s of $rounds"
done
