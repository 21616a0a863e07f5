#!/bin/bash
# make-real-vmcore-arm64.sh - build a real Linux arm64 (aarch64) crash dump
# (ELF vmcore) of a Debian arm64 kernel that panicked in a qemu-system-aarch64
# TCG guest, plus reference figures from makedumpfile on that dump and,
# optionally, the kernel's own per-page ground truth (/proc/kpageflags) taken
# just before the crash.
#
# The arm64 twin of shared/fixtures/make-real-vmcore.sh (x86_64): the same
# workload, ground-truth capture and reference runs; what differs is the
# guest (virt machine, -cpu max, an arm64 kernel, busybox and memhog from the
# Debian arm64 archive or the cross compiler) and the reference tool
# (Debian's arm64 makedumpfile under qemu-user-static, set up by
# arm64-makedumpfile.sh beside this script; its timings are emulated ones).
#
# usage: make-real-vmcore-arm64.sh [OPTIONS] RAM PROFILE OUTDIR
#   RAM      guest memory: 1G, 3G, 1536M, or a plain number of MiB (the virt
#            machine puts RAM at physical 1 GiB)
#   PROFILE  small  - 1 vCPU, one NUMA node, THP=always (default)
#            large  - 2 vCPUs, two NUMA nodes, THP=madvise, boot-time hugetlb pool,
#                     more anon/page cache, fragmentation
#   OUTDIR   receives vmcore.zst, vmcore.sha256, dmesg.txt, reference.json,
#            build-info.json, console.log, qemu-raw-header.bin
#
# Options (before the positional arguments):
#   --kernel-version VER  guest kernel: linux-image-VER:arm64 (e.g.
#               6.1.0-57-arm64); default: the one linux-image-arm64:arm64
#               depends on. Downloaded and unpacked (dpkg -x) into
#               ARM64_ROOT, not installed. Same as KVER=VER.
#   --kpageflags  record ground truth: right before the crash the guest copies
#               /proc/kpageflags and /proc/kpagecount in full, plus
#               /proc/meminfo, buddyinfo, zoneinfo and vmstat, with O_DIRECT
#               writes into a raw area behind the ext4 file system of the
#               virtio data disk (no page cache, no file system metadata).
#               After the dump they are read back from the disk image into
#               OUTDIR (kpageflags.zst, kpagecount.zst, meminfo.txt,
#               buddyinfo.txt, zoneinfo.txt, vmstat.txt) and reference.json
#               gains "truth_vs_makedumpfile": per-category kernel counts vs
#               makedumpfile's exclusions (extra makedumpfile runs at -d 1, 2,
#               4, 8 and 16), a confusion matrix for -d 31 and its mistakes.
#               Same as KPAGEFLAGS=1.
#   --compact   smaller, more compressible variant of the small profile
#               (32 MB churn instead of 64, page cache without mods/net and
#               mods/sound, 16 MB mixed + 2 MB random anon instead of
#               32 MB + 8 MB); for a vmcore.zst well under 80 MB when the
#               guest modules are xz-compressed (Debian 6.12). Same as
#               COMPACT=1.
#   -h, --help  this text
#
# Environment (all optional):
#   WORKDIR     big intermediate files (uncompressed vmcore, QEMU kdump
#               outputs, makedumpfile outputs); default OUTDIR/work
#   KVER        guest kernel version (as --kernel-version)
#   ARM64_ROOT  where the arm64 packages are unpacked (default WORKDIR/arm64)
#   KPAGEFLAGS=1, COMPACT=1  as --kpageflags, --compact
#   CPU         QEMU -cpu model (default max,pauth-impdef=on: every feature,
#               pointer authentication with QEMU's fast hash instead of QARMA)
#   REF_RUNS    timed runs per makedumpfile mode (default 3; median kept)
#   MAKEDUMPFILE  makedumpfile for arm64 dumps (default: Debian's arm64
#               build under qemu-user-static, from arm64-makedumpfile.sh)
#   MAKEDUMPFILE_EXTRA  optional second makedumpfile binary (e.g. one with
#               snappy and zstd enabled); results under "extra_build"
#   MAKEDUMPFILE_EXTRA_DESC  free-text description of that binary
#   VMLINUX     debug vmlinux for the crash(8) check (default: none; crash
#               built for x86_64 does not read arm64 dumps)
#   SKIP_DUMP=1 reuse WORKDIR/vmcore (and, with --kpageflags, the truth files
#               already in OUTDIR) and only redo the reference step
#   SKIP_REFERENCE=1  stop after the dump
#   NO_COMPRESS=1  leave the vmcore uncompressed in WORKDIR (no vmcore.zst)
#   GUEST_TIMEOUT  seconds to wait for the guest panic (default 3600)
#   INSTALL=1   apt-get install the Debian packages listed below first
#
# Needs (Debian 12): arm64 as a dpkg foreign architecture (dpkg
#   --add-architecture arm64 && apt-get update), qemu-system-arm
#   qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross python3
#   python3-libkdumpfile e2fsprogs cpio zstd xz-utils time kmod
#
# Only processes started by this script are ever signalled, by PID.
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
KPAGEFLAGS=${KPAGEFLAGS:-0} COMPACT=${COMPACT:-0}
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-version) [ $# -ge 2 ] || usage; KVER=$2; shift 2 ;;
	--kernel-version=*) KVER=${1#*=}; shift ;;
	--kpageflags) KPAGEFLAGS=1; shift ;;
	--compact) COMPACT=1; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 3 ] || usage
RAM_ARG=$1 PROFILE=$2 OUT=$3
case "$RAM_ARG" in
	*[Gg]) RAM_MB=$(( ${RAM_ARG%[Gg]} * 1024 )) ;;
	*[Mm]) RAM_MB=${RAM_ARG%[Mm]} ;;
	*) RAM_MB=$RAM_ARG ;;
esac
case "$PROFILE" in small|large) ;; *) echo "unknown profile $PROFILE" >&2; usage ;; esac

PKGS="qemu-system-arm qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross python3 python3-libkdumpfile e2fsprogs cpio zstd xz-utils time kmod"
if [ "${INSTALL:-0}" = 1 ]; then
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $PKGS
fi
HERE=$(cd "$(dirname "$0")" && pwd)

PY=/usr/bin/python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=${WORKDIR:-$OUT/work}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
ARM64=${ARM64_ROOT:-$WORK/arm64}
mkdir -p "$ARM64"
ARM64=$(cd "$ARM64" && pwd)
# arm64 packages are downloaded and unpacked, never installed on this host
arm64_unpack() {
	local pkg=$1 d=$ARM64/debs
	mkdir -p "$d"
	ls "$d/${pkg%%:*}"_*_arm64.deb >/dev/null 2>&1 \
		|| (cd "$d" && apt-get download -q "$pkg:arm64" 2>&1 | grep -v unsandboxed >&2) || true
	ls "$d/${pkg%%:*}"_*_arm64.deb >/dev/null 2>&1 || { echo "can't download $pkg:arm64 (dpkg --add-architecture arm64; apt-get update)" >&2; exit 1; }
	dpkg-deb -x "$(ls "$d/${pkg%%:*}"_*_arm64.deb | tail -1)" "$ARM64/root"
}
# default guest kernel: the one the linux-image-arm64 metapackage points at
if [ -z "${KVER:-}" ]; then
	KVER=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | sed -n 's/.*Depends: linux-image-\([^ :]*\).*/\1/p' | head -1)
	[ -n "$KVER" ] || { echo "can't tell the kernel linux-image-arm64:arm64 depends on (apt-get update?)" >&2; exit 1; }
fi
[ -r "$ARM64/root/boot/vmlinuz-$KVER" ] || arm64_unpack "linux-image-$KVER"
[ -x "$ARM64/root/bin/busybox" ] || arm64_unpack busybox-static
KERNEL=$ARM64/root/boot/vmlinuz-$KVER
MODDIR=$ARM64/root/lib/modules/$KVER
[ -d "$MODDIR" ] && [ -r "$KERNEL" ] || { echo "no kernel $KERNEL" >&2; exit 1; }
[ -s "$MODDIR/modules.dep" ] || depmod -b "$ARM64/root" "$KVER"
CPU_ENV=${CPU:-}
REF_RUNS=${REF_RUNS:-3}
MDF=${MAKEDUMPFILE:-$("$HERE/arm64-makedumpfile.sh" "$ARM64/makedumpfile")}
VMLINUX=${VMLINUX:-}

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

QPID=
# true while PID exists and is not a zombie
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
cleanup() {
	if [ -n "$QPID" ] && alive "$QPID"; then
		log "stopping QEMU pid $QPID"
		kill "$QPID" 2>/dev/null || true
		sleep 2
		kill -9 "$QPID" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- profiles
case "$PROFILE" in
small)
	SMP=1 MACHINE=virt
	EXTRA_CMDLINE=""
	NUMA_ARGS=()
	;;
large)
	SMP=2 MACHINE=virt
	EXTRA_CMDLINE="transparent_hugepage=madvise hugepagesz=2M hugepages=96 init_on_alloc=0"
	H0=$(( RAM_MB / 2 )) H1=$(( RAM_MB - RAM_MB / 2 ))
	NUMA_ARGS=(-object memory-backend-ram,id=ram0,size=${H0}M
		-numa node,nodeid=0,cpus=0,memdev=ram0
		-object memory-backend-ram,id=ram1,size=${H1}M
		-numa node,nodeid=1,cpus=1,memdev=ram1)
	;;
esac
CMDLINE="console=ttyAMA0,115200 panic=0 loglevel=6 vmcore_profile=$PROFILE $EXTRA_CMDLINE"
[ "$COMPACT" = 1 ] && CMDLINE+=" vmcore_variant=compact"
# --kpageflags: the raw truth area behind the file system on the data disk
# (vmcore_truth=<MiB offset> is added once the file system size is known)
TRUTH_MB=0
if [ "$KPAGEFLAGS" = 1 ]; then
	# kpageflags/kpagecount: 8 bytes per pfn up to max_pfn (RAM from 1 GiB,
	# rounded up to a section), each in its own area; 8 MiB for the header
	# and the text files
	KPF_MB=$(( ((RAM_MB + 2048) * 2 + 1023) / 1024 + 1 ))
	TRUTH_MB=$(( 8 + 2 * KPF_MB ))
fi

# ------------------------------------------------------------ guest pieces
# the guest's workload generator is the e2e guests' (one C source for both)
MEMHOG_C=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/e2e/guest/memhog.c

write_init() {
cat > "$1" <<'EOF_INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /mnt /tmp
mount -t tmpfs -o size=60% tmpfs /dev/shm
# messages go to the console and into the kernel log (so into the dump)
step() { echo "WORKLOAD: $*"; echo "workload: $*" > /dev/kmsg; }
for m in $(cat /etc/modules.list); do
	insmod /lib/modules/$m.ko || echo "WORKLOAD: insmod $m failed"
done
if [ -e /sys/firmware/qemu_fw_cfg/by_name/etc/vmcoreinfo ]; then
	step "fw_cfg etc/vmcoreinfo present (guest published VMCOREINFO)"
else
	step "fw_cfg etc/vmcoreinfo MISSING"
fi
mount -t ext4 /dev/vda /mnt || step "mount /dev/vda failed"
PROFILE=$(sed -n 's/.*vmcore_profile=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
# vmcore_variant=compact: less incompressible data (small profile)
VARIANT=$(sed -n 's/.*vmcore_variant=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
# vmcore_truth=MB: raw area of /dev/vda (behind the ext4 file system) that
# receives the ground truth right before the crash
TRUTH=$(sed -n 's/.*vmcore_truth=\([0-9]*\).*/\1/p' /proc/cmdline)
readcache() { for d in "$@"; do find /mnt/data/$d -type f -print0 | xargs -0 cat > /dev/null; done; }
waitready() { for r in "$@"; do while [ ! -e $r ]; do sleep 1; done; done; }
step "profile $PROFILE start"
case "$PROFILE" in
small)
	if [ "$VARIANT" = compact ]; then
		CHURN=32 CACHEDIRS="py perl i18n mods/fs"
		R1="-a 48:text -a 16:mixed -a 2:random -a 16:zero -a 16:sparse"
	else
		CHURN=64 CACHEDIRS="py perl i18n mods/fs mods/net mods/sound"
		R1="-a 48:text -a 32:mixed -a 8:random -a 16:zero -a 16:sparse"
	fi
	step "churn: $CHURN MB text written by a process that exits (stale data in free pages)"
	memhog -s 11 -a $CHURN:text -x
	echo 24 > /proc/sys/vm/nr_hugepages
	step "page cache: reading $CACHEDIRS"
	readcache $CACHEDIRS
	step "ext4 writes: 16 MB text + 8 MB mixed, fsync"
	mkdir -p /mnt/rw
	memhog -x -w /mnt/rw/log.txt:16:text -w /mnt/rw/blob.bin:8:mixed
	step "shmem: 16 MB text in tmpfs"
	memhog -x -w /dev/shm/shm.txt:16:text
	step "anon: 3 resident processes, hugetlb 16 MB of 48 MB pool mapped"
	step "  memhog $R1"
	memhog -s 21 -r /tmp/r1 $R1 &
	memhog -s 22 -r /tmp/r2 -a 64:dup -a 32:text &
	memhog -s 23 -r /tmp/r3 -H 16:mixed &
	waitready /tmp/r1 /tmp/r2 /tmp/r3
	;;
large)
	step "churn: 256 MB text + 32 MB mixed written by a process that exits"
	memhog -s 11 -a 256:text -a 32:mixed -x
	step "page cache: reading py perl i18n mods gcc"
	readcache py perl i18n mods gcc
	step "page cache fragmentation: fadvise(DONTNEED) every other 64 KiB of large gpu/net modules"
	find /mnt/data/mods/drivers/gpu /mnt/data/mods/drivers/net -type f -size +128k -exec memhog -x -F {} \;
	step "ext4 writes: 48 MB text + 32 MB mixed, fsync"
	mkdir -p /mnt/rw
	memhog -x -w /mnt/rw/log.txt:48:text -w /mnt/rw/blob.bin:32:mixed
	step "shmem: 32 MB text + 16 MB mixed in tmpfs"
	memhog -x -w /dev/shm/a.txt:32:text -w /dev/shm/b.bin:16:mixed
	step "anon: 5 resident processes (two fragmenting concurrently), hugetlb 96 MB of 192 MB pool mapped, THP madvise 64 MB"
	memhog -s 21 -r /tmp/r1 -a 192:text -a 96:mixed -a 24:random -a 64:zero -a 64:sparse &
	memhog -s 22 -r /tmp/r2 -a 128:dup -a 64:text &
	memhog -s 23 -r /tmp/r3 -f 256:mixed &
	memhog -s 24 -r /tmp/r4 -f 128:text -T 64:text &
	memhog -s 25 -r /tmp/r5 -H 96:mixed &
	waitready /tmp/r1 /tmp/r2 /tmp/r3 /tmp/r4 /tmp/r5
	step "churn: 128 MB sparse by a process that exits"
	memhog -s 12 -a 128:sparse -x
	;;
esac
sync
step "meminfo before crash:"
grep -E 'MemTotal|MemFree|^Buffers|^Cached|AnonPages|AnonHugePages|Shmem:|HugePages_Total|HugePages_Free|Slab:' /proc/meminfo | while read l; do step "  $l"; done
cat /proc/buddyinfo
if [ -n "$TRUTH" ]; then
	# ground truth, as late as possible: one short-lived static process, a
	# 64 KiB buffer, O_DIRECT writes to the raw disk area (no page cache);
	# kpageflags is read last, immediately before the crash
	step "ground truth: meminfo buddyinfo zoneinfo vmstat kpagecount kpageflags -> /dev/vda at $TRUTH MiB (O_DIRECT)"
	memhog -S /dev/vda:$TRUTH /proc/meminfo /proc/buddyinfo /proc/zoneinfo /proc/vmstat \
		/proc/kpagecount /proc/kpageflags || echo "WORKLOAD: ground truth capture failed"
	echo c > /proc/sysrq-trigger
fi
step "crashing via sysrq-trigger"
sleep 1
echo c > /proc/sysrq-trigger
sleep 1000000
EOF_INIT
}

write_qmp_py() {
cat > "$1" <<'EOF_PY'
import json, socket, sys
sock, cmds = sys.argv[1], json.loads(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
f = s.makefile('rw')
json.loads(f.readline())
def cmd(name, args=None):
    m = {"execute": name}
    if args: m["arguments"] = args
    f.write(json.dumps(m) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" in r:
            print("event:", json.dumps(r), file=sys.stderr)
            continue
        return r
cmd("qmp_capabilities")
results = []
for c in cmds:
    r = cmd(c[0], c[1] if len(c) > 1 else None)
    print(json.dumps({"cmd": c[0], "args": c[1] if len(c) > 1 else None, "reply": r}))
    sys.stdout.flush()
EOF_PY
}

write_normalize_py() {
cat > "$1" <<'EOF_NORM'
# QEMU 7.2 writes the ELF section header table right after the ELF header
# and the program headers behind it (e_phoff = 192). makedumpfile 1.7.2 reads
# program headers at offset 64 regardless of e_phoff, so it cannot open such a
# file. Move the program header table to offset 64, drop the section headers
# (they only carry the extended phnum for PN_XNUM dumps and are unused here),
# fix e_ehsize; notes and segment data stay where they are, byte for byte.
import struct, sys
p, hdr_out = sys.argv[1], sys.argv[2]
with open(p, "r+b") as f:
    eh = bytearray(f.read(64))
    assert eh[:4] == b"\x7fELF" and eh[4] == 2
    phoff, shoff = struct.unpack_from("<QQ", eh, 32)
    ehsize, phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHHH", eh, 52)
    assert phnum != 0xffff
    f.seek(phoff); ph = f.read(phentsize * phnum)
    first = min(struct.unpack_from("<Q", ph, i * phentsize + 8)[0] for i in range(phnum))
    f.seek(0); open(hdr_out, "wb").write(f.read(first))
    if phoff == 64:
        print("program headers already at offset 64"); sys.exit(0)
    assert 64 + len(ph) <= first
    struct.pack_into("<QQ", eh, 32, 64, 0)
    struct.pack_into("<HHHHHH", eh, 52, 64, phentsize, phnum, 0, 0, 0)
    f.seek(0); f.write(eh); f.write(ph); f.write(b"\0" * (first - 64 - len(ph)))
print("program headers moved from offset %d to 64; %d section headers at %d dropped; e_ehsize was %d" % (phoff, shnum, shoff, ehsize))
EOF_NORM
}

# ---------------------------------------------------------------- building
build_guest() {
	log "building guest (kernel $KVER, profile $PROFILE, RAM ${RAM_MB} MiB)"
	local B=$WORK/build
	rm -rf "$B"; mkdir -p "$B/root"/{bin,etc,proc,sys,dev,tmp,mnt,lib/modules}
	aarch64-linux-gnu-gcc -static -O2 -o "$B/root/bin/memhog" "$MEMHOG_C"
	cp "$ARM64/root/bin/busybox" "$B/root/bin/busybox"
	write_init "$B/root/init"; chmod 755 "$B/root/init"
	# modules with their dependencies, dependencies first
	local want="qemu_fw_cfg crc32c_generic virtio_pci virtio_blk ext4"
	local order=()
	add_mod() {
		local m=$1 d
		for d in $(modinfo -b "$ARM64/root" -k "$KVER" -F depends "$m" | tr ',' ' '); do add_mod "$d"; done
		local x; for x in "${order[@]:-}"; do [ "$x" = "$m" ] && return 0; done
		order+=("$m")
	}
	local m
	for m in $want; do add_mod "$m"; done
	: > "$B/root/etc/modules.list"
	local f
	for m in "${order[@]}"; do
		f=$(modinfo -b "$ARM64/root" -k "$KVER" -F filename "$m")
		# built into this kernel (e.g. virtio_pci in 6.12): nothing to load
		case "$f" in /*) ;; *) continue ;; esac
		# compressed modules (6.12: .ko.xz) are unpacked on the host, so the
		# guest's busybox insmod needs no decompressor
		case "$f" in
		*.xz) xz -dc "$f" > "$B/root/lib/modules/$m.ko" ;;
		*.zst) zstd -qdc "$f" > "$B/root/lib/modules/$m.ko" ;;
		*.gz) gzip -dc "$f" > "$B/root/lib/modules/$m.ko" ;;
		*) cp "$f" "$B/root/lib/modules/$m.ko" ;;
		esac
		echo "$m" >> "$B/root/etc/modules.list"
	done
	(cd "$B/root" && find . | cpio -o -H newc --quiet | gzip -6) > "$WORK/initramfs.cpio.gz"
	# data disk: real files for the page cache
	local S=$B/disk
	mkdir -p "$S/data/mods"
	local pyd; pyd=$(ls -d /usr/lib/python3.[0-9]* | sort -V | tail -1)
	linkcopy() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }
	linkcopy "$pyd" "$S/data/py"
	linkcopy /usr/share/perl "$S/data/perl"
	linkcopy /usr/share/i18n "$S/data/i18n"
	for m in "$MODDIR"/kernel/*; do linkcopy "$m" "$S/data/mods/"; done
	linkcopy /usr/lib/gcc "$S/data/gcc"
	local kb; kb=$(du -sk "$S" | cut -f1)
	local imgmb=$(( kb / 1024 * 13 / 10 + 512 ))
	rm -f "$WORK/data.img"
	mke2fs -q -t ext4 -L vmcdata -d "$S" "$WORK/data.img" "${imgmb}M"
	rm -rf "$S"
	rm -f "$WORK/truth-offset-mb"
	if [ "$TRUTH_MB" -gt 0 ]; then
		# raw area after the file system's last block: ground truth
		truncate -s $(( (imgmb + TRUTH_MB) * 1048576 )) "$WORK/data.img"
		echo "$imgmb" > "$WORK/truth-offset-mb"
	fi
	log "initramfs $(stat -c %s "$WORK/initramfs.cpio.gz") bytes, data disk ${imgmb} MiB + ${TRUTH_MB} MiB truth area"
}

run_guest() {
	# an aarch64 guest on an x86_64 host: TCG only
	local accel=tcg accel_arg="tcg,thread=multi" cpu=${CPU_ENV:-max,pauth-impdef=on}
	ACCEL_USED=$accel CPU_USED=$cpu
	local sock=$WORK/qmp.sock
	rm -f "$sock" "$WORK/console.log" "$WORK/vmcore" "$WORK"/qemu-kdump-*
	if [ -s "$WORK/truth-offset-mb" ]; then CMDLINE+=" vmcore_truth=$(cat "$WORK/truth-offset-mb")"; fi
	QEMU_CMD=(qemu-system-aarch64 -name vmcore-fixture -machine "$MACHINE" -accel "$accel_arg"
		-cpu "$cpu" -smp "$SMP" -m "$RAM_MB" "${NUMA_ARGS[@]}"
		-nodefaults -no-user-config -display none
		-serial "file:$WORK/console.log"
		-qmp "unix:$sock,server=on,wait=off"
		-device vmcoreinfo -no-reboot
		-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" -append "$CMDLINE"
		-drive "file=$WORK/data.img,if=virtio,format=raw,cache=unsafe")
	log "starting QEMU ($accel): ${QEMU_CMD[*]}"
	"${QEMU_CMD[@]}" > "$WORK/qemu.stderr" 2>&1 &
	QPID=$!
	local t=0
	until grep -q -- "---\[ end Kernel panic" "$WORK/console.log" 2>/dev/null; do
		alive "$QPID" || { log "QEMU exited early"; tail -30 "$WORK/console.log" >&2; exit 1; }
		sleep 5; t=$((t + 5))
		[ $t -lt ${GUEST_TIMEOUT:-3600} ] || { log "guest did not panic in time"; tail -30 "$WORK/console.log" >&2; exit 1; }
	done
	log "guest panicked after ~${t}s; dumping"
	sleep 3
	write_qmp_py "$WORK/qmp.py"
	local caps
	caps=$($PY "$WORK/qmp.py" "$sock" '[["stop"],["query-status"],["query-dump-guest-memory-capability"]]')
	echo "$caps" > "$WORK/qmp-caps.jsonl"
	local cmds='[["dump-guest-memory",{"paging":false,"protocol":"file:'$WORK'/vmcore","format":"elf"}]'
	local fmt
	for fmt in kdump-zlib kdump-lzo kdump-snappy; do
		if echo "$caps" | grep -q "\"$fmt\""; then
			cmds+=',["dump-guest-memory",{"paging":false,"protocol":"file:'$WORK'/qemu-'$fmt'.dump","format":"'$fmt'"}]'
		fi
	done
	cmds+=',["quit"]]'
	$PY "$WORK/qmp.py" "$sock" "$cmds" > "$WORK/qmp-dump.jsonl" || true
	local i
	for i in $(seq 60); do alive "$QPID" || break; sleep 1; done
	cleanup
	wait "$QPID" 2>/dev/null || true
	QPID=
	[ -s "$WORK/vmcore" ] || { log "no vmcore written"; cat "$WORK/qmp-dump.jsonl" >&2; exit 1; }
	log "vmcore: $(stat -c %s "$WORK/vmcore") bytes; normalising ELF header layout"
	chmod 644 "$WORK/vmcore" "$WORK"/qemu-kdump-*.dump 2>/dev/null || true
	mv "$WORK/vmcore" "$WORK/vmcore.qemu"
	cp "$WORK/vmcore.qemu" "$WORK/vmcore"
	write_normalize_py "$WORK/normalize.py"
	$PY "$WORK/normalize.py" "$WORK/vmcore" "$OUT/qemu-raw-header.bin" | tee "$WORK/normalize.log" >&2
	cp "$WORK/console.log" "$OUT/console.log"
	ARM64_DIR=$ARM64 VARIANT=$([ "$COMPACT" = 1 ] && echo compact || echo default) \
	$PY - "$OUT/build-info.json" "$WORK" "$KVER" "$PROFILE" "$RAM_MB" "$SMP" "$MACHINE" "$ACCEL_USED" "$CPU_USED" "$CMDLINE" "${QEMU_CMD[@]}" <<'EOF_BI'
import json, os, sys, subprocess
out, work, kver, prof, ram, smp, mach, accel, cpu, cmdline, *qemu = sys.argv[1:]
# relative names only: WORKDIR for the work directory, the kernel by file name
qemu = [a.replace(work, "WORKDIR") for a in qemu]
qemu = [os.path.basename(a) if "/boot/vmlinuz-" in a else a for a in qemu]
def pkgver(p):
    try: return subprocess.run(["dpkg-query","-W","-f=${Version}",p],capture_output=True,text=True).stdout
    except Exception: return ""
json.dump({"kernel_release": kver, "kernel_package_version": subprocess.run(["sh", "-c", "dpkg-deb -f " + os.path.join(os.environ["ARM64_DIR"], "debs", "linux-image-" + kver + "_*_arm64.deb") + " Version"], capture_output=True, text=True).stdout.strip(),
           "profile": prof, "workload_variant": os.environ.get("VARIANT", "default"),
           "ram_mib": int(ram), "vcpus": int(smp), "machine": mach,
           "accel": accel, "cpu": cpu, "kernel_cmdline": cmdline,
           "qemu_version": pkgver("qemu-system-arm"), "qemu_argv": qemu}, open(out,"w"), indent=1)
EOF_BI
	if [ -s "$WORK/truth-offset-mb" ]; then extract_truth; fi
}

# ------------------------------------------------------------ ground truth
# read the truth area of the data disk image back: raw kpageflags/kpagecount
# into WORK/truth, zstd copies and the text files into OUT; a "ground_truth"
# section goes into build-info.json
extract_truth() {
	log "extracting ground truth from the data disk image"
	$PY - "$WORK/data.img" "$(cat "$WORK/truth-offset-mb")" "$WORK" "$OUT" <<'EOF_TRUTH'
import json, os, struct, subprocess, sys
img, off_mb, work, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
T = os.path.join(work, "truth")
os.makedirs(T, exist_ok=True)
base = off_mb << 20
gt = {"method": "guest init ran 'memhog -S' right before 'echo c > /proc/sysrq-trigger': "
                "each /proc file read with a 64 KiB buffer and written with O_DIRECT to a raw "
                "area behind the ext4 file system of the virtio data disk (order: meminfo, "
                "buddyinfo, zoneinfo, vmstat, kpagecount, kpageflags); read back from the "
                "disk image after the dump",
      "caveat": "taken a moment before the crash, not at it: pages allocated or freed between "
                "the capture and the panic (the capturing process itself, its page tables and "
                "stack, kernel activity during the panic) can differ from the vmcore",
      "files": {}}
with open(img, "rb") as f:
    f.seek(base); hdr = f.read(4096).rstrip(b"\0").decode(errors="replace").splitlines()
    if not hdr or hdr[0] != "vmcore-truth 1" or hdr[-1] != "end":
        gt["error"] = "no complete truth header on the disk (capture failed?): %r" % hdr[:3]
        hdr = []
    for line in hdr[1:-1]:
        name, off, n = line.split(); off, n = int(off), int(n)
        f.seek(base + off); data = f.read(n)
        gt["files"][name] = n
        if name in ("kpageflags", "kpagecount"):
            open(os.path.join(T, name), "wb").write(data)
            dst = os.path.join(out, name + ".zst")
            if os.path.exists(dst): os.unlink(dst)
            subprocess.run(["zstd", "-q", "-19", "-o", dst, os.path.join(T, name)], check=True)
        else:
            open(os.path.join(out, name + ".txt"), "wb").write(data)
# complete = one entry per pfn up to the end of the highest populated zone
# (zoneinfo start_pfn + spanned); the vmcore may also hold non-RAM PT_LOADs
# such as the BIOS ROM below 4 GiB, which have no struct page
zi = os.path.join(out, "zoneinfo.txt")
if os.path.exists(zi) and "kpageflags" in gt["files"]:
    end, sp = 0, None
    for line in open(zi):
        w = line.split()
        if w[:1] == ["spanned"]: sp = int(w[1])
        if w[:1] == ["start_pfn:"] and sp: end = max(end, int(w[1]) + sp)
    npfn = gt["files"]["kpageflags"] // 8
    gt["kpageflags_pfns"] = npfn
    gt["zone_end_pfn"] = end
    gt["kpageflags_complete"] = npfn >= end > 0
    gt["kpagecount_complete"] = gt["files"].get("kpagecount", 0) // 8 >= end > 0
bi = os.path.join(out, "build-info.json")
b = json.load(open(bi)) if os.path.exists(bi) else {}
b["ground_truth"] = gt
json.dump(b, open(bi, "w"), indent=1)
print(json.dumps(gt, indent=1), file=sys.stderr)
EOF_TRUTH
	chmod 644 "$OUT"/*.zst "$OUT"/*.txt 2>/dev/null || true
}

compress_vmcore() {
	(cd "$WORK" && sha256sum vmcore) > "$OUT/vmcore.sha256"
	[ "${NO_COMPRESS:-0}" != 1 ] || { log "vmcore left uncompressed: $WORK/vmcore"; return 0; }
	log "zstd -19 --long=31 -T2"
	rm -f "$OUT/vmcore.zst"
	zstd -q -19 --long=31 -T2 -o "$OUT/vmcore.zst" "$WORK/vmcore"
	chmod 644 "$OUT/vmcore.zst"
	log "vmcore.zst: $(stat -c %s "$OUT/vmcore.zst") bytes"
}

# --------------------------------------------------------------- reference
write_reference_py() {
cat > "$1" <<'EOF_REF'
import hashlib, json, os, random, re, shutil, statistics, struct, subprocess, sys, time
vmcore, work, out, runs, mdf, vmlinux = sys.argv[1:7]
jname = sys.argv[7] if len(sys.argv) > 7 else "reference.json"
runs = int(runs)
D = os.path.join(work, "mdf" if jname == "reference.json" else "mdf-" + jname[:-5])
shutil.rmtree(D, ignore_errors=True)
os.makedirs(D)

def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 22), b""): h.update(b)
    return h.hexdigest()

KEYS = [("original", "Original pages"), ("excluded", "Excluded pages"),
        ("zero", "Pages filled with zero"), ("cache", "Non-private cache pages"),
        ("cache_private", "Private cache pages"), ("user", "User process data pages"),
        ("free", "Free pages"), ("hwpoison", "Hwpoison pages"), ("offline", "Offline pages"),
        ("remaining", "Remaining pages"), ("memory_hole", "Memory Hole"), ("total", "Total pages")]
def parse_report(text):
    r = {}
    for k, label in KEYS:
        m = re.findall(r"^\s*" + re.escape(label) + r"\s*:\s*(0x[0-9a-fA-F]+|\d+)", text, re.M)
        if m: r[k] = int(m[-1], 0)
    m = re.findall(r"^Write bytes\s*:\s*(\d+)", text, re.M)
    if m: r["write_bytes"] = int(m[-1])
    return r

def parse_time(p):
    t = open(p).read()
    res = {}
    m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", t)
    if m: res["wall_s"] = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t); res["max_rss_kb"] = int(m.group(1)) if m else None
    m = re.search(r"User time \(seconds\): ([\d.]+)", t); res["user_s"] = float(m.group(1)) if m else None
    m = re.search(r"System time \(seconds\): ([\d.]+)", t); res["sys_s"] = float(m.group(1)) if m else None
    m = re.search(r"Exit status: (\d+)", t); res["exit"] = int(m.group(1)) if m else None
    return res

def timed(argv, name, stdin=None, stdout=None, n=1, pre=None):
    """run argv n times under /usr/bin/time -v; return (rc, log text, timing medians)"""
    times = []
    rc = None; text = ""
    for i in range(n):
        if pre: pre()
        tf = os.path.join(D, name + ".time")
        lf = os.path.join(D, name + ".log")
        with open(lf, "w") as lg:
            fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
            fout = open(stdout, "wb") if stdout else lg
            p = subprocess.run(["/usr/bin/time", "-v", "-o", tf] + argv, stdin=fin,
                               stdout=fout, stderr=lg)
            if stdin: fin.close()
            if stdout: fout.close()
        rc = p.returncode
        text = open(lf, errors="replace").read()
        times.append(parse_time(tf))
        if rc != 0: break
    def med(k):
        v = [t[k] for t in times if t.get(k) is not None]
        return statistics.median(v) if v else None
    return rc, text, {"runs": len(times), "wall_s_median": med("wall_s"),
                      "wall_s_all": [t.get("wall_s") for t in times],
                      "user_s_median": med("user_s"), "sys_s_median": med("sys_s"),
                      "max_rss_kb_median": med("max_rss_kb")}

def rm(*ps):
    for p in ps:
        if os.path.exists(p): os.unlink(p)

ML = ["--message-level", "31"]
results = []
def mode(name, args, kind="kdump", outputs=1):
    outs = [os.path.join(D, name + (".%d" % i if outputs > 1 else ".out")) for i in range(outputs)]
    argv = [mdf] + ML + args + [vmcore] + outs
    rc, text, tm = timed(argv, name, n=runs, pre=lambda: rm(*outs))
    e = {"name": name, "args": args, "command": " ".join(["makedumpfile"] + ML + args + ["VMCORE"] +
         [("OUT.%d" % i if outputs > 1 else "OUT") for i in range(outputs)]),
         "format": kind, "exit_code": rc, "pages": parse_report(text), **tm}
    w = [l.strip() for l in text.splitlines() if re.search(r"not supported|may be incomplete|[Ww]arning|disabled", l)]
    if w: e["warnings"] = sorted(set(w))
    if re.search(r"option is disabled", text): e["compression_applied"] = False
    if rc == 0:
        e["output_bytes"] = sum(os.path.getsize(o) for o in outs)
        if outputs > 1: e["output_bytes_each"] = [os.path.getsize(o) for o in outs]
        if kind == "kdump": e["sha256"] = [sha256(o) for o in outs] if outputs > 1 else sha256(outs[0])
    else:
        e["error"] = [l for l in text.splitlines() if l.strip()][-3:]
    results.append(e)
    print("%-22s rc=%s pages=%s bytes=%s wall=%s rss=%s" % (name, rc, e["pages"].get("remaining"),
          e.get("output_bytes"), tm["wall_s_median"], tm["max_rss_kb_median"]), file=sys.stderr)
    return e, outs

r31c, o31c = mode("d31_zlib", ["-d", "31", "-c"])
mode("d31_snappy", ["-d", "31", "-p"])
mode("d31_zstd", ["-d", "31", "-z"])
r31l, o31l = mode("d31_lzo", ["-d", "31", "-l"])
mode("d31_uncompressed", ["-d", "31"])
mode("d1_snappy", ["-d", "1", "-p"])
mode("d0_snappy", ["-d", "0", "-p"])
mode("d1_lzo", ["-d", "1", "-l"])
mode("d0_lzo", ["-d", "0", "-l"])
mode("d1_zlib", ["-d", "1", "-c"])
mode("d31_elf", ["-E", "-d", "31"], kind="elf")
mode("d31_zlib_2threads", ["--num-threads", "2", "-d", "31", "-c"])

# flattened to stdout, then rebuilt with -R
for comp in ("-p", "-l"):
    name = "d31_flat" + comp
    flat = os.path.join(D, name + ".flat")
    argv = [mdf] + ML + ["-F", "-d", "31", comp, vmcore]
    rc, text, tm = timed(argv, name, stdout=flat, n=runs)
    e = {"name": name, "args": ["-F", "-d", "31", comp], "format": "flattened",
         "command": "makedumpfile %s -F -d 31 %s VMCORE > OUT.flat" % (" ".join(ML), comp),
         "exit_code": rc, "pages": parse_report(text), **tm}
    if rc == 0:
        e["output_bytes"] = os.path.getsize(flat)
        rb = os.path.join(D, name + ".rebuilt")
        rm(rb)
        rc2, text2, tm2 = timed([mdf, "-R", rb], name + "_R", stdin=flat)
        e["rebuild"] = {"command": "makedumpfile -R OUT < OUT.flat", "exit_code": rc2,
                        "wall_s": tm2["wall_s_median"], "max_rss_kb": tm2["max_rss_kb_median"]}
        if rc2 == 0:
            e["rebuild"]["output_bytes"] = os.path.getsize(rb)
            e["rebuild"]["sha256"] = sha256(rb)
            direct = r31l if comp == "-l" else None
            if direct and direct.get("sha256"):
                e["rebuild"]["identical_to_direct"] = (e["rebuild"]["sha256"] == direct["sha256"])
        else:
            e["rebuild"]["error"] = text2.splitlines()[-3:]
    else:
        e["error"] = [l for l in text.splitlines() if l.strip()][-3:]
    results.append(e)
    print("%-22s rc=%s bytes=%s rebuild=%s" % (name, rc, e.get("output_bytes"), e.get("rebuild", {}).get("exit_code")), file=sys.stderr)

# split into 2, then reassemble
es, outs = mode("d31_zlib_split2", ["--split", "-d", "31", "-c"], outputs=2)
if es["exit_code"] == 0:
    ra = os.path.join(D, "d31_zlib_reassembled.out")
    rm(ra)
    rc, text, tm = timed([mdf, "--reassemble"] + outs + [ra], "reassemble")
    es["reassemble"] = {"command": "makedumpfile --reassemble OUT.0 OUT.1 OUT", "exit_code": rc,
                        "wall_s": tm["wall_s_median"], "max_rss_kb": tm["max_rss_kb_median"]}
    if rc == 0:
        es["reassemble"]["output_bytes"] = os.path.getsize(ra)
        es["reassemble"]["sha256"] = sha256(ra)
        es["reassemble"]["identical_to_direct"] = es["reassemble"]["sha256"] == r31c.get("sha256")
    else:
        es["reassemble"]["error"] = text.splitlines()[-3:]

# the unmodified QEMU 7.2 ELF layout (program headers at e_phoff=192)
raw = vmcore + ".qemu"
if os.path.exists(raw):
    ro = os.path.join(D, "qemu_raw_layout.out"); rm(ro)
    rc, text, tm = timed([mdf] + ML + ["-d", "31", "-c", raw, ro], "qemu_raw_layout")
    results.append({"name": "qemu_raw_layout_d31_zlib", "input": "unmodified QEMU ELF (phdrs at e_phoff=192)",
                    "command": "makedumpfile %s -d 31 -c VMCORE.qemu OUT" % " ".join(ML),
                    "exit_code": rc, "error": [l for l in text.splitlines() if l.strip()][-3:]})
    rm(ro)

# dmesg
dm = os.path.join(D, "dmesg.txt")
rm(dm)
rc, text, tm = timed([mdf, "--dump-dmesg", vmcore, dm], "dump_dmesg")
results.append({"name": "dump_dmesg", "command": "makedumpfile --dump-dmesg VMCORE OUT",
                "exit_code": rc, "output_bytes": os.path.getsize(dm) if rc == 0 else None,
                "wall_s_median": tm["wall_s_median"], "max_rss_kb_median": tm["max_rss_kb_median"]})
if rc == 0 and jname == "reference.json": shutil.copy(dm, os.path.join(out, "dmesg.txt"))

# determinism: run d31_zlib once more, compare
rep = os.path.join(D, "d31_zlib.repeat")
rm(rep)
subprocess.run([mdf, "-d", "31", "-c", vmcore, rep], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deterministic = os.path.exists(rep) and sha256(rep) == r31c.get("sha256")
rm(rep)

# ---- ELF vmcore description
def elf_info(path):
    with open(path, "rb") as f:
        eh = f.read(64)
        assert eh[:4] == b"\x7fELF" and eh[4] == 2
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        loads, notes = [], []
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            t, fl, off, va, pa, fsz, msz, al = struct.unpack("<IIQQQQQQ", f.read(56))
            if t == 1: loads.append({"offset": off, "vaddr": va, "paddr": pa, "filesz": fsz, "memsz": msz})
            if t == 4:
                f.seek(off); data = f.read(fsz); p = 0
                while p + 12 <= len(data):
                    nsz, dsz, nt = struct.unpack_from("<III", data, p)
                    nm = data[p + 12:p + 12 + nsz].rstrip(b"\0").decode(errors="replace")
                    ds = p + 12 + ((nsz + 3) & ~3)
                    notes.append({"name": nm, "type": nt, "descsz": dsz,
                                  "desc": data[ds:ds + dsz] if nm == "VMCOREINFO" else None})
                    p = ds + ((dsz + 3) & ~3)
        return loads, notes
loads, notes = elf_info(vmcore)
vmci = [n for n in notes if n["name"] == "VMCOREINFO"]
vmcoreinfo_text = vmci[0]["desc"].decode(errors="replace").rstrip("\0") if vmci else ""
if vmcoreinfo_text:
    open(os.path.join(D, "vmcoreinfo.txt"), "w").write(vmcoreinfo_text)

# ---- libkdumpfile cross-check: random present pages vs the ELF vmcore
def elf_read(f, paddr, n=4096):
    for l in loads:
        if l["paddr"] <= paddr and paddr + n <= l["paddr"] + l["filesz"]:
            f.seek(l["offset"] + paddr - l["paddr"]); return f.read(n)
    return None
def libkdump_check(path, want=300, seed=1234, zero_filled_ok=False, label=None):
    try:
        import kdumpfile
    except Exception as ex:
        return {"error": "python kdumpfile unavailable: %s" % ex}
    res = {"file": label or os.path.basename(path), "compared": 0, "mismatches": 0, "excluded_seen": 0, "tries": 0}
    try:
        k = kdumpfile.kdumpfile(path)
        try: res["format"] = str(k.attr["file.format"])
        except Exception: pass
    except Exception as ex:
        res["error"] = "open failed: %r" % ex; return res
    rnd = random.Random(seed)
    pfns = [(l["paddr"] >> 12, (l["paddr"] + l["filesz"]) >> 12) for l in loads]
    total = sum(b - a for a, b in pfns)
    with open(vmcore, "rb") as f:
        while res["compared"] < want and res["tries"] < 200000:
            res["tries"] += 1
            x = rnd.randrange(total)
            for a, b in pfns:
                if x < b - a: pfn = a + x; break
                x -= b - a
            try:
                buf = bytes(k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096))
            except kdumpfile.exceptions.NoDataException:
                res["excluded_seen"] += 1; continue
            except Exception as ex:
                res.setdefault("other_errors", 0); res["other_errors"] += 1
                res["last_error"] = repr(ex); continue
            ref = elf_read(f, pfn << 12)
            if zero_filled_ok and ref != buf and buf == bytes(4096):
                # makedumpfile -E keeps short runs of excluded pages inside a
                # PT_LOAD and writes them as zero-filled pages
                res["excluded_zero_filled"] = res.get("excluded_zero_filled", 0) + 1
                continue
            res["compared"] += 1
            if ref != buf:
                res["mismatches"] += 1
                res.setdefault("mismatch_pfns", []).append(pfn)
    res["ok"] = res["compared"] >= want and res["mismatches"] == 0
    return res
checks = []
for name in ("d31_zlib.out", "d31_lzo.out", "d31_snappy.out", "d31_zstd.out", "d31_uncompressed.out",
             "d1_lzo.out", "d0_lzo.out", "d1_snappy.out", "d0_snappy.out", "d1_zlib.out",
             "d31_zlib_2threads.out", "d31_zlib_reassembled.out", "d31_flat-l.rebuilt",
             "d31_flat-p.rebuilt", "d31_elf.out"):
    p = os.path.join(D, name)
    if os.path.exists(p): checks.append(libkdump_check(p, zero_filled_ok=name.endswith("_elf.out")))
# QEMU's own kdump-compressed outputs (QEMU < 8.2 writes them in makedumpfile's
# flattened format; makedumpfile -R turns them into a normal kdump file)
qemu_dumps = []
for fmt in ("kdump-zlib", "kdump-lzo", "kdump-snappy"):
    p = os.path.join(work, "qemu-%s.dump" % fmt)
    if not os.path.exists(p): continue
    with open(p, "rb") as f: magic = f.read(16)
    q = {"format": fmt, "bytes": os.path.getsize(p), "sha256": sha256(p),
         "container": "flattened" if magic.startswith(b"makedumpfile") else
                      ("kdump" if magic.startswith(b"KDUMP") else "unknown")}
    target = p
    if q["container"] == "flattened":
        rb = os.path.join(D, "qemu-%s.rebuilt" % fmt); rm(rb)
        rc, text, tm = timed([mdf, "-R", rb], "qemu_%s_R" % fmt, stdin=p)
        q["rebuild"] = {"command": "makedumpfile -R OUT < QEMU_DUMP", "exit_code": rc}
        if rc == 0:
            q["rebuild"]["output_bytes"] = os.path.getsize(rb); q["rebuild"]["sha256"] = sha256(rb)
            target = rb
    c = libkdump_check(target, label="qemu-%s%s" % (fmt, " (after -R)" if target != p else ""))
    checks.append(c); q["libkdumpfile_check"] = c
    qemu_dumps.append(q)
for c in checks: print("libkdumpfile", json.dumps(c), file=sys.stderr)


# ---- crash(8), if a debug vmlinux exists
crash_res = []
if vmlinux and os.path.exists(vmlinux) and shutil.which("crash"):
    for target in (os.path.join(D, "d31_zlib.out"), vmcore):
        if not os.path.exists(target): continue
        cmds = "log | tail -5\nps\nkmem -i\nquit\n"
        try:
            p = subprocess.run(["crash", "-s", vmlinux, target], input=cmds, capture_output=True,
                               text=True, timeout=600)
            txt = p.stdout + p.stderr; rc = p.returncode
        except subprocess.TimeoutExpired as ex:
            txt = "timeout"; rc = None
        lf = os.path.join(D, "crash-%s.txt" % os.path.basename(target))
        open(lf, "w").write(txt)
        crash_res.append({"dumpfile": "makedumpfile -d 31 -c output" if target != vmcore else "ELF vmcore",
                          "exit_code": rc, "sysrq_in_log": "sysrq triggered crash" in txt,
                          "ps_tasks": len(re.findall(r"^\s*>?\s*\d+\s+\d+\s+\d+\s+[0-9a-f]{16}", txt, re.M)),
                          "kmem_i_ok": "TOTAL MEM" in txt,
                          "errors": [l for l in txt.splitlines() if "crash:" in l or "WARNING" in l][:8]})
    for c in crash_res: print("crash", json.dumps(c), file=sys.stderr)

build = {}
bi = os.path.join(out, "build-info.json")
if os.path.exists(bi): build = json.load(open(bi))
ver = subprocess.run([mdf, "-v"], capture_output=True, text=True)
ref = {
    "vmcore": {"bytes": os.path.getsize(vmcore), "sha256": sha256(vmcore),
               "pt_load": [{k: l[k] for k in ("paddr", "filesz")} for l in loads],
               "notes": [{"name": n["name"], "type": n["type"], "descsz": n["descsz"]} for n in notes],
               "vmcoreinfo_present": bool(vmcoreinfo_text),
               "vmcoreinfo": vmcoreinfo_text.splitlines()},
    "build": build,
    "makedumpfile": {"version": (ver.stdout + ver.stderr).strip().splitlines(),
                     "timing_note": "wall/RSS via /usr/bin/time -v, median of %d runs, vmcore in the host page cache" % runs,
                     "zlib_output_deterministic": deterministic},
    "modes": results,
    "libkdumpfile_check": checks,
    "qemu_kdump_outputs": qemu_dumps,
    "crash_check": crash_res,
}
json.dump(ref, open(os.path.join(out, jname), "w"), indent=1)
print("wrote", os.path.join(out, jname), file=sys.stderr)
EOF_REF
}

write_truth_py() {
cat > "$1" <<'EOF_TVM'
# Compare makedumpfile's page exclusions with the kernel's own per-page state
# (/proc/kpageflags captured by the guest just before the crash).
# argv: VMCORE WORKDIR OUTDIR MAKEDUMPFILE
import json, os, re, struct, subprocess, sys
from array import array
vmcore, work, out, mdf = sys.argv[1:5]
T = os.path.join(work, "truth")
D = os.path.join(work, "mdf-truth")
os.makedirs(D, exist_ok=True)

def raw_truth(name):
    p = os.path.join(T, name)
    if not os.path.exists(p):
        z = os.path.join(out, name + ".zst")
        os.makedirs(T, exist_ok=True)
        subprocess.run(["zstd", "-q", "-d", "-f", "-o", p, z], check=True)
    a = array("Q"); a.frombytes(open(p, "rb").read())
    return a
kpf, kpc = raw_truth("kpageflags"), raw_truth("kpagecount")

BITS = {"LOCKED": 0, "ERROR": 1, "REFERENCED": 2, "UPTODATE": 3, "DIRTY": 4, "LRU": 5, "ACTIVE": 6,
        "SLAB": 7, "WRITEBACK": 8, "RECLAIM": 9, "BUDDY": 10, "MMAP": 11, "ANON": 12, "SWAPCACHE": 13,
        "SWAPBACKED": 14, "COMPOUND_HEAD": 15, "COMPOUND_TAIL": 16, "HUGE": 17, "UNEVICTABLE": 18,
        "HWPOISON": 19, "NOPAGE": 20, "KSM": 21, "THP": 22, "OFFLINE": 23, "ZERO_PAGE": 24, "IDLE": 25,
        "PGTABLE": 26, "RESERVED": 32, "MLOCKED": 33, "OWNER_2": 34, "PRIVATE": 35, "PRIVATE_2": 36,
        "OWNER_PRIVATE": 37, "ARCH": 38, "UNCACHED": 39, "SOFTDIRTY": 40, "ARCH_2": 41}
def fnames(v):
    return "|".join(n for n, b in BITS.items() if v >> b & 1) or "0"

# ---- makedumpfile runs, one exclusion class each (plus -d 1 and -d 31)
def bitmaps(path, level):
    """kdump-compressed file: 1st bitmap (pfn present), 2nd bitmap (pfn
    written), and the pfns written as zero-filled: with -d bit 1 set,
    makedumpfile keeps zero pages set in the 2nd bitmap but points their
    page descriptors at one shared zero page stored first in the data area"""
    with open(path, "rb") as f:
        h = f.read(4096)
        assert h[:8] == b"KDUMP   ", path
        version, = struct.unpack_from("<i", h, 8)
        status, bs, sub_hdr, bm_blocks, mapnr32 = struct.unpack_from("<IiiII", h, 424)
        f.seek(bs); sub = f.read(bs)
        mapnr = struct.unpack_from("<Q", sub, 96)[0] if version >= 6 else mapnr32
        f.seek(bs * (1 + sub_hdr)); half = bm_blocks * bs // 2
        b1, b2 = f.read(half), f.read(half)
        zb = bytearray(half)
        if level & 1:
            pfns = [i * 8 + b for i, v in enumerate(b2) if v for b in range(8) if v >> b & 1]
            desc_off = bs * (1 + sub_hdr + bm_blocks)
            zoff = desc_off + 24 * len(pfns)
            f.seek(desc_off); descs = f.read(24 * len(pfns))
            for pfn, (off, size, flags, pf) in zip(pfns, struct.iter_unpack("<qIIQ", descs)):
                if off == zoff: zb[pfn >> 3] |= 1 << (pfn & 7)
    return mapnr, int.from_bytes(b1, "little"), int.from_bytes(b2, "little"), int.from_bytes(zb, "little")
KEYS = [("zero", "Pages filled with zero"), ("cache", "Non-private cache pages"),
        ("cache_private", "Private cache pages"), ("user", "User process data pages"),
        ("free", "Free pages"), ("hwpoison", "Hwpoison pages"), ("offline", "Offline pages"),
        ("remaining", "Remaining pages"), ("excluded", "Excluded pages")]
runs = {}
for lvl in (1, 2, 4, 8, 16, 31):
    o = os.path.join(D, "d%d.out" % lvl)
    if os.path.exists(o): os.unlink(o)
    p = subprocess.run([mdf, "--message-level", "31", "-d", str(lvl), "-l", vmcore, o],
                       capture_output=True, text=True)
    txt = p.stdout + p.stderr
    open(os.path.join(D, "d%d.log" % lvl), "w").write(txt)
    if p.returncode != 0:
        sys.exit("makedumpfile -d %d failed: %s" % (lvl, txt.strip().splitlines()[-3:]))
    rep = {}
    for k, label in KEYS:
        m = re.findall(r"^\s*" + re.escape(label) + r"\s*:\s*(0x[0-9a-fA-F]+|\d+)", txt, re.M)
        if m: rep[k] = int(m[-1], 0)
    mapnr, b1, b2, zp = bitmaps(o, lvl)
    runs[lvl] = {"report": rep, "b1": b1, "b2": b2, "zero": zp, "mapnr": mapnr}
    os.unlink(o)
mapnr = runs[31]["mapnr"]
N = min(mapnr, len(kpf))
MASK = (1 << N) - 1
cnt = lambda x: x.bit_count()
present = runs[31]["b1"] & MASK
beyond = cnt(runs[31]["b1"] & ~MASK)
# excluded by a page-type rule (not in the 2nd bitmap), and zero-filled
xbit = {l: (r["b1"] & ~r["b2"]) & MASK for l, r in runs.items()}
xzero = {l: r["zero"] & MASK for l, r in runs.items()}
excl = {l: xbit[l] | xzero[l] for l in runs}

# ---- kernel truth bitsets
by_bit = [bytearray((N + 7) // 8) for _ in range(64)]
flags0 = bytearray((N + 7) // 8)
mapped = bytearray((N + 7) // 8)
for pfn in range(N):
    v = kpf[pfn]
    i, m = pfn >> 3, 1 << (pfn & 7)
    if not v: flags0[i] |= m
    if pfn < len(kpc) and kpc[pfn]: mapped[i] |= m
    while v:
        low = v & -v
        by_bit[low.bit_length() - 1][i] |= m
        v ^= low
S = {n: int.from_bytes(by_bit[b], "little") & present for n, b in BITS.items()}
S0 = int.from_bytes(flags0, "little") & present
MAPPED = int.from_bytes(mapped, "little") & present

# ---- zero-filled pages by content, straight from the ELF vmcore
zb = bytearray((N + 7) // 8)
with open(vmcore, "rb") as f:
    eh = f.read(64); phoff, = struct.unpack_from("<Q", eh, 32); phentsize, phnum = struct.unpack_from("<HH", eh, 54)
    loads = []
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        t, fl, o, va, pa, fsz, msz, al = struct.unpack("<IIQQQQQQ", f.read(56))
        if t == 1: loads.append((pa, o, fsz))
    Z = bytes(4096)
    for pa, o, fsz in loads:
        f.seek(o)
        done = 0
        while done < fsz:
            chunk = memoryview(f.read(min(1 << 22, fsz - done)))
            if not chunk: break
            for j in range(0, len(chunk) - 4095, 4096):
                if chunk[j:j + 4096] == Z:
                    pfn = (pa + done + j) >> 12
                    if pfn < N: zb[pfn >> 3] |= 1 << (pfn & 7)
            done += len(chunk)
zero = int.from_bytes(zb, "little") & present

# ---- makedumpfile -d 31 attribution (its precedence: free, cache, cache
# private, user, then zero-filled among the rest)
m_free, m_cache_all, m_cache, m_user, m_zero = xbit[16], xbit[4], xbit[2], xbit[8], xzero[1]
x31 = xbit[31]
a_free = x31 & m_free
a_cache = x31 & m_cache & ~a_free
a_cpriv = x31 & m_cache_all & ~m_cache & ~a_free
a_user = x31 & m_user & ~a_free & ~m_cache_all
a_other = x31 & ~(a_free | a_cache | a_cpriv | a_user)
a_zero = xzero[31]
kept = present & ~excl[31]
MCLS = [("free", a_free), ("cache", a_cache), ("cache_private", a_cpriv), ("user", a_user),
        ("zero", a_zero), ("other_excluded", a_other), ("kept", kept)]
rep31 = runs[31]["report"]
consistent = all(cnt(x) == rep31.get(k, 0) for k, x in MCLS[:5])

# ---- truth classes, mutually exclusive, in this order
LRU_FILE = S["LRU"] & ~S["ANON"]
# user data: KPF_ANON, but not slab pages: for slab folios the kernel derives
# KPF_ANON from the word that overlays page->mapping, which SLUB uses for its
# own fields (the per-cpu partial "slabs" count), so some slab pages read ANON
ANON = S["ANON"] & ~S["SLAB"]
order = [("buddy", S["BUDDY"]), ("hugetlb", S["HUGE"]), ("slab", S["SLAB"]), ("pgtable", S["PGTABLE"]),
         ("offline", S["OFFLINE"]), ("anon", ANON), ("lru_file", LRU_FILE),
         ("zero_page", S["ZERO_PAGE"]), ("reserved", S["RESERVED"]), ("no_flags", S0)]
rest, TCLS = present, []
for n, x in order:
    TCLS.append((n, x & rest)); rest &= ~x
TCLS.append(("other_kernel", rest))
confusion = {tn: {mn: cnt(tx & mx) for mn, mx in MCLS} for tn, tx in TCLS}
confusion_total = {tn: cnt(tx) for tn, tx in TCLS}

def row(cat, truth_def, t, mdef, m, note=None):
    r = {"category": cat, "kernel_truth_definition": truth_def, "kernel_truth": cnt(t),
         "makedumpfile_definition": mdef, "makedumpfile_excluded": cnt(m), "overlap": cnt(t & m),
         "truth_not_excluded": cnt(t & ~m), "excluded_not_truth": cnt(m & ~t),
         "truth_excluded_at_d31_any_reason": cnt(t & excl[31]), "truth_written_at_d31": cnt(t & kept)}
    if note: r["note"] = note
    return r
HUGE = S["HUGE"]
table = [
    row("free", "KPF_BUDDY (bit 10)", S["BUDDY"], "excluded at -d 16 (Free pages)", m_free),
    row("cache", "KPF_LRU (bit 5) and not KPF_ANON (bit 12)", LRU_FILE,
        "excluded at -d 4 (Non-private + Private cache pages)", m_cache_all),
    row("user", "KPF_ANON (bit 12) and not KPF_SLAB (bit 7)", ANON, "excluded at -d 8 (User process data pages)", m_user,
        "includes %d mapped private hugetlb pages; %d slab pages also carry KPF_ANON (see truth_classes)"
        % (cnt(ANON & HUGE), cnt(S["ANON"] & S["SLAB"]))),
    row("hugetlb", "KPF_HUGE (bit 17)", HUGE, "excluded at -d 8 and KPF_HUGE", m_user & HUGE,
        "makedumpfile counts hugetlb pages as user data"),
    row("zero", "page content all zero in the ELF vmcore", zero, "excluded at -d 1 (Pages filled with zero)", m_zero,
        "KPF_ZERO_PAGE (bit 24) pages: %d" % cnt(S["ZERO_PAGE"])),
    row("slab", "KPF_SLAB (bit 7)", S["SLAB"], "excluded at -d 31 as free/cache/user (zero-filled not counted)",
        x31 & S["SLAB"], "should be 0; zero-filled slab pages at -d 31: %d" % cnt(a_zero & S["SLAB"])),
    row("offline", "KPF_OFFLINE (bit 23)", S["OFFLINE"], "excluded at -d 31 by no free/cache/user rule (Offline pages)",
        a_other, "makedumpfile reported %d offline pages" % rep31.get("offline", 0)),
    row("pgtable", "KPF_PGTABLE (bit 26)", S["PGTABLE"], "excluded at -d 31 as free/cache/user (zero-filled not counted)",
        x31 & S["PGTABLE"], "should be 0; zero-filled page-table pages at -d 31: %d" % cnt(a_zero & S["PGTABLE"])),
]

def ranges(x, limit=12):
    """first runs of consecutive set bits: (start pfn, length)"""
    res = []
    while x and len(res) < limit:
        low = (x & -x).bit_length() - 1
        y = x >> low
        length = (y ^ (y + 1)).bit_length() - 1
        res.append((low, length))
        x &= ~(((1 << length) - 1) << low)
    return res
def examples(x, limit=8):
    ex = []
    for start, length in ranges(x, limit):
        ex.append({"pfn": "0x%x" % start, "pages": length, "kpageflags": "0x%x" % kpf[start],
                   "flags": fnames(kpf[start]), "kpagecount": kpc[start] if start < len(kpc) else None})
    return ex
def mistake(kind, x, explain, loses_data):
    return {"kind": kind, "pages": cnt(x), "loses_data": loses_data, "explanation": explain,
            "examples": examples(x)} if x else None
THP_TAIL = S["THP"] & S["COMPOUND_TAIL"]
KERNEL = S["SLAB"] | S["PGTABLE"] | S["RESERVED"] | dict(TCLS)["other_kernel"] | dict(TCLS)["no_flags"]
non_zero_excl = x31
mistakes = [m for m in [
    mistake("free pages kept (-d 31)", S["BUDDY"] & kept,
            "kernel: free in the buddy allocator; makedumpfile -d 31 wrote them", False),
    mistake("excluded as free but not free", m_free & ~S["BUDDY"],
            "makedumpfile -d 16 excluded them; the kernel did not report KPF_BUDDY", True),
    mistake("page cache kept (-d 31)", LRU_FILE & kept & ~S["HUGE"], "kernel: LRU, not anon", False),
    mistake("excluded as cache but not LRU file pages", m_cache_all & ~LRU_FILE,
            "makedumpfile -d 4 excluded them as cache; the kernel did not report KPF_LRU without KPF_ANON", True),
    mistake("anon THP tail pages not excluded as user (-d 8)", ANON & THP_TAIL & ~m_user & ~HUGE,
            "tail pages of anonymous THPs: makedumpfile excluded the head page only", False),
    mistake("anon THP tail pages written (-d 31)", ANON & THP_TAIL & kept & ~HUGE,
            "as above, less the tail pages that -d 31 dropped as zero-filled", False),
    mistake("other anon pages written (-d 31)", ANON & ~THP_TAIL & kept & ~HUGE,
            "kernel: KPF_ANON, not a THP tail page; expected to be the capturing process's own pages "
            "(its buffer, header, stack), freed between capture and panic", False),
    mistake("hugetlb pages not excluded as user (-d 8)", HUGE & ~m_user,
            "kernel: KPF_HUGE (mapped pages and the free pool)", False),
    mistake("hugetlb pages written (-d 31)", HUGE & kept,
            "as above, less the pages that -d 31 dropped as zero-filled", False),
    mistake("excluded as user but not anon or hugetlb", m_user & ~ANON & ~HUGE,
            "makedumpfile -d 8 excluded them as user data", True),
    mistake("kernel pages excluded (-d 31)", KERNEL & non_zero_excl,
            "slab, page table, reserved or other kernel pages excluded as free/cache/user", True),
    mistake("zero-filled pages disagreement", (zero ^ m_zero),
            "content check of the ELF vmcore vs makedumpfile -d 1", True),
] if m]

res = {
    "truth_source": "kpageflags (guest /proc/kpageflags, 8 bytes per pfn) and kpagecount, captured by the "
                    "guest right before the crash (see build-info.json ground_truth)",
    "caveat": "the truth is a moment older than the dump: pages allocated or freed in between "
              "(the capturing process, kernel activity during the panic) can disagree; such noise "
              "is expected to be tens of pages, not thousands",
    "pfns_compared": cnt(present), "kpageflags_pfns": len(kpf), "makedumpfile_max_mapnr": mapnr,
    "present_pfns_without_truth": beyond,
    "makedumpfile_runs": {("d%d" % l): {"command": "makedumpfile --message-level 31 -d %d -l VMCORE OUT" % l,
                                        "report": r["report"], "excluded_by_type": cnt(xbit[l]),
                                        "zero_filled": cnt(xzero[l])}
                          for l, r in runs.items()},
    "table": table,
    "d31_attribution_matches_report": consistent,
    "d31_attribution": {k: cnt(x) for k, x in MCLS},
    "truth_classes": "mutually exclusive, first match: " + ", ".join(n for n, _ in order) + ", other_kernel; "
                     "lru_file = KPF_LRU and not KPF_ANON; no_flags = kpageflags 0 (e.g. per-cpu free "
                     "lists, vmalloc/kernel allocations without flags)",
    "d31_confusion": confusion, "truth_class_totals": confusion_total,
    "kernel_counts": {"KPF_" + n: cnt(x) for n, x in S.items() if cnt(x)},
    "anon_thp_pages": cnt(ANON & S["THP"]), "anon_thp_tail_pages": cnt(ANON & THP_TAIL),
    "mapped_pages_kpagecount_gt0": cnt(MAPPED),
    "mistakes": mistakes,
}
rp = os.path.join(out, "reference.json")
ref = json.load(open(rp))
ref["truth_vs_makedumpfile"] = res
json.dump(ref, open(rp, "w"), indent=1)
print("%-8s %10s %10s %10s %10s %10s" % ("category", "truth", "mdf_excl", "overlap", "t_not_ex", "ex_not_t"), file=sys.stderr)
for r in table:
    print("%-8s %10d %10d %10d %10d %10d" % (r["category"], r["kernel_truth"], r["makedumpfile_excluded"], r["overlap"],
          r["truth_not_excluded"], r["excluded_not_truth"]), file=sys.stderr)
for m in mistakes:
    print("mistake: %-45s %8d" % (m["kind"], m["pages"]), file=sys.stderr)
print("d31 attribution consistent with makedumpfile's report:", consistent, file=sys.stderr)
EOF_TVM
}

reference() {
	log "makedumpfile reference runs ($REF_RUNS per mode)"
	write_reference_py "$WORK/reference.py"
	$PY "$WORK/reference.py" "$WORK/vmcore" "$WORK" "$OUT" "$REF_RUNS" "$MDF" "$VMLINUX" reference.json
	# optional second makedumpfile binary (e.g. one with snappy and zstd
	# enabled); its results go under "extra_build" in reference.json
	if [ -n "${MAKEDUMPFILE_EXTRA:-}" ]; then
		log "reference runs with $MAKEDUMPFILE_EXTRA"
		$PY "$WORK/reference.py" "$WORK/vmcore" "$WORK" "$OUT" "$REF_RUNS" "$MAKEDUMPFILE_EXTRA" "" reference-extra.json
		$PY - "$OUT" "${MAKEDUMPFILE_EXTRA_DESC:-}" <<'EOF_MERGE'
import json, os, sys
out, desc = sys.argv[1], sys.argv[2]
r = json.load(open(os.path.join(out, "reference.json")))
x = json.load(open(os.path.join(out, "reference-extra.json")))
r["extra_build"] = {"description": desc, "makedumpfile": x["makedumpfile"], "modes": x["modes"],
                    "libkdumpfile_check": x["libkdumpfile_check"]}
json.dump(r, open(os.path.join(out, "reference.json"), "w"), indent=1)
os.unlink(os.path.join(out, "reference-extra.json"))
EOF_MERGE
	fi
	# --kpageflags: kernel truth vs makedumpfile's exclusions
	if [ "$KPAGEFLAGS" = 1 ] || [ -s "$WORK/truth/kpageflags" ]; then
		if [ -s "$WORK/truth/kpageflags" ] || [ -s "$OUT/kpageflags.zst" ]; then
			log "ground truth vs makedumpfile"
			write_truth_py "$WORK/truth-vs-mdf.py"
			$PY "$WORK/truth-vs-mdf.py" "$WORK/vmcore" "$WORK" "$OUT" "$MDF"
		else
			log "no ground truth files (capture failed?); skipping truth_vs_makedumpfile"
		fi
	fi
}

if [ "${SKIP_DUMP:-0}" != 1 ]; then
	build_guest
	run_guest
	compress_vmcore
elif [ "$KPAGEFLAGS" = 1 ] && [ -s "$WORK/truth-offset-mb" ] && [ -s "$WORK/data.img" ]; then
	extract_truth
fi
[ "${SKIP_REFERENCE:-0}" = 1 ] || reference
log "done: $OUT"
