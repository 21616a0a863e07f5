#!/bin/sh
# In the capture kernel: run makedumpfile and cyclodump on /proc/vmcore with the command
# lines of Debian kdump-tools (-F -c -d 31 piped to a file; --dump-dmesg) and RHEL
# kdump-utils (-l --message-level 7 -d 31 to a file). For each run: wall time and peak RSS
# (memwatch, beside this script: ru_maxrss = the process's VmHWM, and the peaks of its
# anonymous, file and shmem pages), MemAvailable before, exit status. A run that has not
# ended after e2e.tool_timeout= seconds (default 240: a capture kernel short of memory
# thrashes rather than failing) is killed and counts as not completed.
# $1: output directory. E2E_MAKEDUMPFILE: the reference (default /usr/bin/makedumpfile);
# E2E_TOOLS: "makedumpfile cyclodump" (default) or one of them.
D=${1:?output directory}
MDF=${E2E_MAKEDUMPFILE:-/usr/bin/makedumpfile}
TOOLS=${E2E_TOOLS:-makedumpfile cyclodump}
VMCORE=/proc/vmcore
PATH=$(cd "$(dirname "$0")/.." && pwd)/bin:$PATH
TT=$(sed -n 's/.*e2e\.tool_timeout=\([0-9]*\).*/\1/p' /proc/cmdline)
TT=${TT:-240}
step() { echo "E2E: $*"; echo "e2e: $*" > /dev/kmsg; }
bin() { if [ "$1" = makedumpfile ]; then echo "$MDF"; else echo cyclodump; fi; }
short() { if [ "$1" = makedumpfile ]; then echo mdf; else echo cyc; fi; }
step "capture kernel up: $(nproc) cpu(s), $(grep MemTotal /proc/meminfo)"
# the records (*.time, *.log, results.txt, env.txt) are kept in M, off the dump disk (which
# --fault disk-full fills), and copied to D after every run and at the end
M=/tmp/e2e-records
mkdir -p "$D" "$M"
: > "$M/results.txt"
{
	echo "kernel $(uname -r)"
	echo "nproc $(nproc)"
	echo "cmdline $(cat /proc/cmdline)"
	grep -E '^(MemTotal|MemFree|MemAvailable):' /proc/meminfo
	echo "makedumpfile $("$MDF" -v 2>&1 | head -1)"
	echo "cyclodump $(cyclodump -v 2>&1 | head -1)"
	echo "node $(node -v 2>&1)"
} > "$M/env.txt"
# run NAME STDOUT CMD...: STDOUT "" = stdout and stderr into NAME.log. A tool killed once
# (time limit, OOM killer) is not run again in this boot: its later runs are "skipped".
run() {
	name=$1 out=$2; shift 2
	if [ -e "$M/${name%%-*}.killed" ]; then
		echo "$name skipped" >> "$M/results.txt"; step "skip $name"; return
	fi
	sync; echo 3 > /proc/sys/vm/drop_caches
	avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	step "run $name: $*"
	if [ -n "$out" ]; then
		memwatch -o "$M/$name.time" -t "$TT" "$@" 2> "$M/$name.log" | cat > "$out"
	else
		memwatch -o "$M/$name.time" -t "$TT" "$@" > "$M/$name.log" 2>&1
	fi
	sync
	grep -q 'terminated by signal' "$M/$name.time" && : > "$M/${name%%-*}.killed"
	echo "$name mem_available_kb=$avail $(grep -E 'Exit status|terminated by signal' "$M/$name.time" | tr -d '\t' | tr ' ' _)" >> "$M/results.txt"
	step "done $name: $(tail -1 "$M/results.txt")"
	cp "$M"/* "$D"/ 2>/dev/null; sync
}
for t in $TOOLS; do
	s=$(short "$t")
	run "$s-F" "$D/$s.flat" $(bin "$t") -F -c -d 31 "$VMCORE"
done
for t in $TOOLS; do
	s=$(short "$t")
	run "$s-dmesg" "" $(bin "$t") --dump-dmesg "$VMCORE" "$D/$s.dmesg"
done
# a newer reference (makedumpfile 1.7.9 prints printk's caller id, 1.7.2 does not): the
# kernel log from Debian's makedumpfile 1.7.2 too, the format cyclodump follows (in the
# debian environment /usr/bin/makedumpfile is the README's link to cyclodump, and 1.7.2
# is dpkg's diversion, makedumpfile.distrib)
M172=/usr/bin/makedumpfile
[ -x /usr/bin/makedumpfile.distrib ] && M172=/usr/bin/makedumpfile.distrib
if [ "$MDF" != "$M172" ] && [ -x "$M172" ] && [ ! -L "$M172" ]; then
	run m172-dmesg "" "$M172" --dump-dmesg "$VMCORE" "$D/m172.dmesg"
fi
# E2E_FAULT=disk-full: before cyclodump's -l dump, a filler file leaves free on the dump
# disk half the size of makedumpfile's -l dump
fill_disk() {
	[ "${E2E_FAULT:-none}" = disk-full ] && [ "$1" = cyclodump ] && [ -s "$D/mdf.l" ] || return 0
	free_kb=$(df -k "$D" | awk 'NR == 2 { print $4 }')
	want_kb=$(( $(stat -c %s "$D/mdf.l") / 2048 ))
	step "disk-full: filling the dump disk to leave ${want_kb} KiB of ${free_kb} KiB"
	dd if=/dev/zero of="$D/filler" bs=1024 count=$(( free_kb - want_kb )) 2>/dev/null
	sync
}
# E2E_FAULT=kill: the size of cyclodump's -l dump on the console 5 times a second; the host
# kills QEMU once it has grown (e2e/lib.sh run_qemu)
watch_size() {
	[ "${E2E_FAULT:-none}" = kill ] && [ "$1" = cyclodump ] || return 0
	# makedumpfile's -l dump of the same vmcore, written just before: how large cyclodump's
	# will be, for the host to kill the guest part way (e2e/lib.sh run_qemu)
	echo "E2E: ref.l $(stat -c %s "$D/mdf.l" 2>/dev/null || echo 0)"
	while :; do echo "E2E: cyc.l $(stat -c %s "$D/cyc.l" 2>/dev/null || echo 0)"; sleep 0.2; done &
	WATCH=$!
}
for t in $TOOLS; do
	s=$(short "$t")
	rm -f "$D/$s.l"
	fill_disk "$t"
	WATCH=
	watch_size "$t"
	# cyclodump's default order writes the priority pages first (docs/cut-dumps.md); the -l
	# file is compared byte for byte, so it is asked for makedumpfile's order here, while
	# the -F run above keeps the default order and is compared page by page
	order=; [ "$t" != cyclodump ] || order=--pfn-order
	run "$s-l" "" $(bin "$t") -l $order --message-level 7 -d 31 "$VMCORE" "$D/$s.l"
	[ -z "$WATCH" ] || kill "$WATCH"
done
rm -f "$D/filler"
cp "$M"/* "$D"/
sync
