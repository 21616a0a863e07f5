#!/bin/bash
# perf/alternate-order.sh OLD_TREE VMCORE ROUNDS OUT_PREFIX: the default order and
# --pfn-order of an old build (OLD_TREE: a built copy with bin/ and dist/) and of this one,
# and makedumpfile, -l -d 31 pinned to CPU 1; per round one `hyperfine -N -w 1 -r 1` of the
# five commands, their order rotated every round; OUT_PREFIX.N.json per round (issue 16).
unset NODE_EXTRA_CA_CERTS
OLD=$1; F=$2; N=$3; P=$4; W=$(cd "$(dirname "$0")/.." && pwd); T=$(mktemp -d)
cmds=("taskset -c 1 $OLD/bin/cyclodump -l -d 31 --non-mmap -f $F $T/a0"
"taskset -c 1 $OLD/bin/cyclodump -l -d 31 --non-mmap --pfn-order -f $F $T/a1"
"taskset -c 1 $W/bin/cyclodump -l -d 31 --non-mmap -f $F $T/a2"
"taskset -c 1 $W/bin/cyclodump -l -d 31 --non-mmap --pfn-order -f $F $T/a3"
"taskset -c 1 makedumpfile -l -d 31 $F $T/a4 -f")
for i in $(seq 1 "$N"); do
  rot=(); for k in 0 1 2 3 4; do rot+=("${cmds[$(( (k + i) % 5 ))]}"); done
  hyperfine -N -w 1 -r 1 --prepare "rm -f $T/a0 $T/a1 $T/a2 $T/a3 $T/a4" "${rot[@]}" --export-json "$P.$i.json" >/dev/null
done
rm -rf "$T"
