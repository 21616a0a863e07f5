#!/bin/sh
# The first kernel's workload before the crash; $1 = guest RAM in MiB. Every page class
# -d 31 decides on: free pages holding stale data, page cache (files of the root disk),
# shmem, anonymous memory of several patterns, a hugetlb pool, kernel slab.
RAM=${1:-1024}
step() { echo "E2E: $*"; echo "e2e: $*" > /dev/kmsg; }
U=$((RAM / 16))   # 64 MiB per GiB of RAM
step "workload for $RAM MiB: unit $U MiB"
mkdir -p /dev/shm && mount -t tmpfs -o size=25% tmpfs /dev/shm
step "churn: $U MiB text written by a process that exits"
memhog -s 11 -a $U:text -x
echo 12 > /proc/sys/vm/nr_hugepages
step "page cache: reading /usr/lib"
find /usr/lib /usr/share -type f 2>/dev/null | head -4000 | xargs cat > /dev/null 2>&1
step "shmem: $((U / 4)) MiB text"
memhog -x -w /dev/shm/shm.txt:$((U / 4)):text
step "anon: two resident processes, hugetlb 8 MiB of the 24 MiB pool"
memhog -s 21 -r /tmp/r1 -a $U:text -a $((U / 2)):mixed -a $((U / 8)):random -a $((U / 4)):zero -a $((U / 4)):sparse &
memhog -s 22 -r /tmp/r2 -a $U:dup -H 8:mixed &
while [ ! -e /tmp/r1 ] || [ ! -e /tmp/r2 ]; do sleep 1; done
sync
grep -E 'MemTotal|MemFree|^Cached|AnonPages|Shmem:|HugePages_Total' /proc/meminfo | while read -r l; do step "  $l"; done
