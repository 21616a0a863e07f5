#!/bin/bash
# e2e/run.sh - one kdump round trip under QEMU: a Debian kernel boots with crashkernel=,
# loads itself as the capture kernel with kexec -p, runs a workload and crashes (sysrq-c);
# the capture kernel runs makedumpfile and cyclodump (installed from `npm pack`) on
# /proc/vmcore with Debian's and RHEL's command lines; the host then checks that
# cyclodump's outputs are makedumpfile's (e2e/check.py).
#
# usage: e2e/run.sh [--kernel 6.1|6.12] [--ram SIZE] [--crashkernel SIZE] [--nr-cpus N]
#                   [--env minimal|debian] [--fault none|disk-full|kill] [--out DIR]
#   --kernel       guest kernel: 6.1 (this host's linux-image-amd64, 6.1.0-57) or 6.12
#                  (linux-image-6.12.117+deb12-amd64, fetched with apt-get download)
#   --ram          guest RAM, e.g. 1G, 3G, 1536M (default 1G)
#   --crashkernel  crashkernel= of the first kernel, e.g. 128M (default 128M)
#   --nr-cpus      nr_cpus= of the capture kernel (default 1, as kdump-tools)
#   --env          minimal: busybox + a read-only disk with node, cyclodump, makedumpfile;
#                  debian: bookworm with kdump-tools, makedumpfile replaced as the README
#                  says (e2e/debian.sh builds the image)
#   --fault        disk-full: the dump disk fills up during cyclodump's -l dump;
#                  kill: QEMU is killed while cyclodump writes its -l dump
#   --out          where the run's files go (default $E2E_DIR/runs/NAME)
# Environment: E2E_DIR (default /work/artifacts/e2e): images, caches, runs;
#   E2E_TGZ: a cyclodump tarball (default: `npm pack` of this checkout);
#   E2E_TIMEOUT: seconds for the whole guest run (default 3600);
#   E2E_TOOL_TIMEOUT: seconds after which a tool's run in the capture kernel is killed and
#   counts as not completed (default 240);
#   E2E_MDF_REF: a makedumpfile binary to run in the capture kernel as the reference
#   (default: this host's makedumpfile 1.7.2);
#   E2E_KILL_AT: with --fault kill, the size in bytes of cyclodump's -l dump in the guest
#   at which QEMU is killed (default: 80% of makedumpfile's -l dump in the same boot).
# Exit status: 0 all checks hold, 1 a check failed, 2 usage, 3 the guest run failed.
# Only the QEMU process this script starts is ever signalled, by its PID.
{ # one block: bash reads it whole, so editing this file cannot upset a running copy
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
KERNEL=6.1 RAM=1G CK=128M NR_CPUS=1 ENVN=minimal FAULT=none OUT=
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || case "$1" in -h|--help) usage ;; *) echo "e2e: $1 needs a value" >&2; exit 2 ;; esac
	case "$1" in
	--kernel) KERNEL=$2 ;; --ram) RAM=$2 ;; --crashkernel) CK=$2 ;; --nr-cpus) NR_CPUS=$2 ;;
	--env) ENVN=$2 ;; --fault) FAULT=$2 ;; --out) OUT=$2 ;;
	*) echo "e2e: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done
mib() { case "$1" in *[Gg]) echo $(( ${1%[Gg]} * 1024 )) ;; *[Mm]) echo "${1%[Mm]}" ;; *) echo "$1" ;; esac; }
RAM_MB=$(mib "$RAM") CK_MB=$(mib "$CK")
case "$ENVN" in minimal|debian) ;; *) echo "e2e: --env minimal|debian" >&2; exit 2 ;; esac
case "$FAULT" in none|disk-full|kill) ;; *) echo "e2e: --fault none|disk-full|kill" >&2; exit 2 ;; esac
case "$NR_CPUS" in [1-9]) ;; *) echo "e2e: --nr-cpus 1..9" >&2; exit 2 ;; esac
E2E_DIR=${E2E_DIR:-/work/artifacts/e2e}
. "$HERE/lib.sh"
resolve_kernel "$KERNEL"
NAME=$KERNEL-$ENVN-${RAM_MB}M-ck${CK_MB}M-cpu$NR_CPUS${FAULT/none/}-$(date +%m%d%H%M%S)
NAME=${NAME/-disk-full/-diskfull}
OUT=${OUT:-$E2E_DIR/runs/$NAME}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log "run $NAME -> $OUT"

TGZ=$(cyclodump_tgz)
INITRD=$(build_initramfs)
# the first kernel boots with our busybox initramfs (minimal) or the image's own (debian)
if [ "$ENVN" = minimal ]; then
	ROOT_IMG=$(build_minimal_root "$TGZ" "$INITRD"); BOOT_INITRD=$INITRD
else
	ROOT_IMG=$(debian_root_image "$TGZ" "$INITRD"); BOOT_INITRD=$ROOT_IMG.initrd-$KVER
fi
# the dump disk: a fresh ext4 file system; with --fault disk-full it holds the makedumpfile
# outputs and only part of cyclodump's -l dump
OUT_MB=${E2E_OUT_MB:-$(( RAM_MB / 2 + 256 ))}
rm -f "$OUT/dump.img"; safe_rm "$OUT/dump-seed"
mkdir -p "$OUT/dump-seed"
if [ "$ENVN" = debian ]; then
	# debian: the guest scripts and memhog come on this disk (/var/crash/.e2e)
	mkdir -p "$OUT/dump-seed/.e2e/bin"; cp -r "$HERE/guest" "$OUT/dump-seed/.e2e/"
	gcc -static -O2 -o "$OUT/dump-seed/.e2e/bin/memhog" "$HERE/guest/memhog.c"
	gcc -static -O2 -o "$OUT/dump-seed/.e2e/bin/memwatch" "$HERE/guest/memwatch.c"
fi
mke2fs -q -t ext4 -m 0 -L e2edump -d "$OUT/dump-seed" "$OUT/dump.img" "${OUT_MB}M" >&2
# the first kernel's command line (the capture kernel's is built from it by kdump-config's rule);
# no_timer_check: under a loaded TCG host the kernel's IO-APIC timer check can fail and panic
CMDLINE="console=ttyS0,115200 loglevel=6 panic=10 no_timer_check crashkernel=${CK_MB}M e2e.tool_timeout=${E2E_TOOL_TIMEOUT:-240} e2e.nr_cpus=$NR_CPUS e2e.workload=$RAM_MB e2e.fault=$FAULT"
ROOT_DRIVE="file=$ROOT_IMG,if=virtio,format=raw,readonly=on"
if [ "$ENVN" = minimal ]; then
	CMDLINE+=" e2e.init=/e2e/guest/minimal.sh"
else
	# debian boots its own root read-write (the capture kernel then mounts it as kdump-tools
	# does): a copy-on-write overlay per run keeps the cached image clean
	qemu-img create -q -f qcow2 -F raw -b "$ROOT_IMG" "$OUT/root.qcow2"
	ROOT_DRIVE="file=$OUT/root.qcow2,if=virtio,format=qcow2"
	CMDLINE="root=/dev/vda rw $CMDLINE"
fi
[ -z "${E2E_MDF_REF:-}" ] || CMDLINE+=" e2e.mdf=$E2E_MDF_REF"
SMP=$(( NR_CPUS > 2 ? NR_CPUS : 2 ))
QEMU=(qemu-system-x86_64 -name e2e -machine pc -accel tcg,thread=multi -cpu max,la57=off
	-smp "$SMP" -m "$RAM_MB" -nodefaults -no-user-config -display none
	-serial "file:$OUT/console.log" -device pvpanic -action panic=shutdown -no-reboot
	-kernel "$KERNEL_IMAGE" -initrd "$BOOT_INITRD" -append "$CMDLINE"
	-drive "$ROOT_DRIVE" -drive "file=$OUT/dump.img,if=virtio,format=raw,cache=unsafe")
printf '%q ' "${QEMU[@]}" > "$OUT/qemu.cmd"; echo >> "$OUT/qemu.cmd"
echo "$KERNEL $KVER $ENVN ram=$RAM_MB crashkernel=$CK_MB nr_cpus=$NR_CPUS fault=$FAULT tgz=$(basename "$TGZ")" > "$OUT/run.txt"
run_qemu "$OUT" "${E2E_TIMEOUT:-3600}" "$FAULT" "${QEMU[@]}" || { log "guest run failed"; exit 3; }
extract_dump_disk "$OUT"
set +e
/usr/bin/python3 "$HERE/check.py" "$OUT"
RC=$?
set -e
exit $RC
}
