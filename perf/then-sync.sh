#!/bin/sh
# Runs a command, then sync(1): times the dump until it is on the disk, as a kdump script's
# `sync` after makedumpfile waits for it (makedumpfile leaves its pages in the page cache;
# cyclodump's run already waits for its data before the descriptors that point at it).
#   perf/alternate.sh 7 "perf/then-sync.sh makedumpfile -d 31 VMCORE" "perf/then-sync.sh bin/cyclodump -d 31 VMCORE"
"$@" || exit $?
exec sync
