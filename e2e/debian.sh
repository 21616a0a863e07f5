#!/bin/bash
# e2e/debian.sh TGZ INITRAMFS - the `debian` environment's root disk, cached; prints its path.
# A Debian 12 (bookworm) root made with debootstrap, with kdump-tools installed and
# configured as its package does (USE_KDUMP=1, the kernels' postinst hook builds
# /var/lib/kdump/initrd.img-VERSION with MODULES=dep, run on the guest itself in a setup
# boot), the 6.1 and 6.12 kernels, Node 20 in /usr/local, cyclodump installed from TGZ as
# docs/operators.md says, and makedumpfile replaced by cyclodump by the commands of the
# README's "Using cyclodump with kdump" section, run as they stand there. /var/crash is
# the second disk. A systemd drop-in runs e2e/guest/capture.sh before kdump-tools' own
# savecore, with the diverted makedumpfile 1.7.2 as the reference.
# Also writes IMAGE.initrd-VERSION: the image's own /boot/initrd.img-VERSION, which the
# first kernel boots with. Needs root (chroot), debootstrap and network for apt.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
E2E_DIR=${E2E_DIR:-/work/artifacts/e2e}
TGZ=$1 INITRAMFS=$2
. "$HERE/lib.sh"
K61=$(dpkg-query -W -f='${Depends}' linux-image-amd64 | sed -n 's/.*linux-image-\(6\.1[^ ,]*\).*/\1/p')
K612=6.12.117+deb12-amd64
# the README's commands, between its e2e markers, without the code fences
readme_block() { sed -n '/<!-- e2e:debian-begin -->/,/<!-- e2e:debian-end -->/p' "$REPO/README.md" | grep -v '^<!--' | grep -v '^ *```'; }
key=$(readme_block | cat - "$TGZ" "$INITRAMFS" "$HERE/guest/debian-setup.sh" "$HERE/debian.sh" ${E2E_MDF_REF:+"$E2E_MDF_REF"} | sha256sum | cut -c1-12)
IMG=$CACHE/debian-$key.img
if [ -s "$IMG" ] && [ -s "$IMG.initrd-$K61" ]; then echo "$IMG"; exit 0; fi
BOOT=$E2E_DIR/debian/bootstrap
if [ ! -x "$BOOT/usr/sbin/kdump-config" ]; then
	log "debootstrap bookworm into $BOOT"
	safe_rm "$BOOT"; mkdir -p "$BOOT"
	debootstrap --variant=minbase \
		--include=systemd-sysv,udev,kmod,kdump-tools,kexec-tools,makedumpfile,initramfs-tools,e2fsprogs,time,procps,libdeflate0,liblzo2-2,libsnappy1v5,libzstd1,busybox,file \
		bookworm "$BOOT" http://deb.debian.org/debian >&2
fi
S=$CACHE/stage-debian.$$
MOUNTED=
cleanup() { for m in $MOUNTED; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM HUP
# bootstrap + both kernels, cached in $E2E_DIR/debian/with-kernels (the kernels'
# initramfs-tools runs take most of an hour on a loaded host)
KS=$E2E_DIR/debian/with-kernels
if [ ! -s "$KS/boot/vmlinuz-$K612" ]; then
	log "installing the kernels into a copy of the bootstrap"
	safe_rm "$KS.tmp"; cp -a "$BOOT" "$KS.tmp"
	for m in proc sys dev; do mount --bind "/$m" "$KS.tmp/$m"; MOUNTED="$KS.tmp/$m $MOUNTED"; done
	cp /etc/resolv.conf "$KS.tmp/etc/resolv.conf"
	# kdump-tools' hook is held back here (MODULES=dep would look at this host) and run in
	# the guest's setup boot below
	for v in "$K61" "$K612"; do
		[ -s "$E2E_DIR"/linux-image-"$v"_*.deb ] 2>/dev/null || (cd "$E2E_DIR" && apt-get download "linux-image-$v" >&2)
		cp "$E2E_DIR"/linux-image-"$v"_*.deb "$KS.tmp/tmp/"
	done
	chmod -x "$KS.tmp/etc/kernel/postinst.d/kdump-tools"
	chroot "$KS.tmp" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/linux-image-*.deb && rm -f /tmp/*.deb && apt-get clean' >&2
	chmod +x "$KS.tmp/etc/kernel/postinst.d/kdump-tools"
	cleanup; MOUNTED=
	rm -f "$KS.tmp/etc/resolv.conf"
	mv "$KS.tmp" "$KS"
fi
# what both the setup image and the run image hold besides the bootstrap and kernels
configure_root() {
	local R=$1
	mkdir -p "$R/e2e/guest"; cp "$HERE/guest/debian-setup.sh" "$R/e2e/guest/"
	echo e2e-debian > "$R/etc/hostname"
	printf '/dev/vda / ext4 defaults 0 1\n/dev/vdb /var/crash ext4 defaults,nofail 0 2\n' > "$R/etc/fstab"
	sed -i 's/^USE_KDUMP=.*/USE_KDUMP=1/' "$R/etc/default/kdump-tools"
}
# The setup boot: kdump-tools' kernel hook on the guest itself, as a kernel installation
# does (its MODULES=dep initrd must fit this machine, not the host). Its product,
# /var/lib/kdump, is cached apart from the tarball: under TCG the hook takes the better
# part of an hour, and cyclodump is not in that initrd (it mounts the root file system).
# The setup boot runs 6.1 whatever kernel the run is for, so with 6.1's initramfs (the
# run's own is another kernel's for a 6.12 run: its modules cannot mount the disk)
resolve_kernel 6.1
SETUP_INITRAMFS=$(build_initramfs)
BASEKEY=$({ cat "$SETUP_INITRAMFS" "$HERE/guest/debian-setup.sh"; declare -f configure_root; echo "$K61 setup-1"; } | sha256sum | cut -c1-12)
KD=$CACHE/debian-kdump-$BASEKEY
if [ ! -s "$KD/kdump/initrd.img-$K61" ]; then
	log "setup boot: kdump-tools' initrd ($KD)"
	safe_rm "$S" "$KD.tmp"; cp -a "$KS" "$S"; configure_root "$S"
	mb=$(( $(du -sm "$S" | cut -f1) * 12 / 10 + 256 ))
	SIMG=$CACHE/debian-setup-$BASEKEY.img
	rm -f "$SIMG"; mke2fs -q -t ext4 -L e2edebian -d "$S" "$SIMG" "${mb}M" >&2
	safe_rm "$S"
	SETUP=$CACHE/debian-setup.$$
	mkdir -p "$SETUP"
	run_setup=(qemu-system-x86_64 -machine pc -accel tcg,thread=multi -cpu max,la57=off -smp 2 -m 1024
		-nodefaults -no-user-config -display none -serial "file:$SETUP/console.log" -no-reboot
		-kernel "$KERNEL_IMAGE" -initrd "$SETUP_INITRAMFS"
		-append "console=ttyS0,115200 panic=10 no_timer_check e2e.rootrw e2e.init=/e2e/guest/debian-setup.sh"
		-drive "file=$SIMG,if=virtio,format=raw,cache=unsafe")
	timeout "${E2E_SETUP_TIMEOUT:-3600}" "${run_setup[@]}" >&2 || true
	grep -q "E2E: setup done" "$SETUP/console.log" || { tail -30 "$SETUP/console.log" >&2; echo "e2e: debian setup boot failed ($SETUP)" >&2; exit 3; }
	e2fsck -fy "$SIMG" > /dev/null 2>&1 || true
	mkdir -p "$KD.tmp"
	debugfs -R "rdump /var/lib/kdump $KD.tmp" "$SIMG" > /dev/null 2>&1
	[ -s "$KD.tmp/kdump/initrd.img-$K61" ] || { echo "e2e: no /var/lib/kdump/initrd.img-$K61 after the setup boot" >&2; exit 3; }
	mv "$KD.tmp" "$KD"; rm -f "$SIMG"; safe_rm "$SETUP"
fi
log "building the debian root disk ($IMG)"
safe_rm "$S"; cp -a "$KS" "$S"
for m in proc sys dev; do mount --bind "/$m" "$S/$m"; MOUNTED="$S/$m $MOUNTED"; done
# Node 20 in /usr/local (as from the nodejs.org tarball) and cyclodump from the tarball
install -m 755 /usr/bin/node "$S/usr/local/bin/node"
npm_install_into "$S" "$TGZ"
log "README block:"; readme_block >&2
readme_block | chroot "$S" sh -ex >&2
[ "$(chroot "$S" readlink -f /usr/bin/makedumpfile)" = /usr/local/lib/node_modules/cyclodump/bin/cyclodump ] ||
	{ echo "e2e: after the README's commands makedumpfile is $(chroot "$S" readlink -f /usr/bin/makedumpfile)" >&2; exit 3; }
cleanup; MOUNTED=
# the setup boot's initrd, and the test's own pieces: the setup script here; the others
# come on the dump disk (/var/crash/.e2e, written by e2e/run.sh for each run)
configure_root "$S"
cp -a "$KD/kdump/." "$S/var/lib/kdump/"
# E2E_MDF_REF (e2e/run.sh): another makedumpfile as the reference, at its host path with
# the libraries it loads (1.7.9 for 6.12, whose page classes Debian's 1.7.2 gets wrong)
[ -z "${E2E_MDF_REF:-}" ] || copy_with_libs "$S" "$E2E_MDF_REF"
cat > "$S/etc/systemd/system/e2e-workload.service" <<'UNIT'
[Unit]
Description=e2e: workload, then sysrq-c (first kernel only)
After=kdump-tools.service
Requires=kdump-tools.service
RequiresMountsFor=/var/crash
ConditionPathExists=!/proc/vmcore
[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh /var/crash/.e2e/guest/debian-first.sh
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/e2e-workload.service "$S/etc/systemd/system/multi-user.target.wants/e2e-workload.service"
mkdir -p "$S/etc/systemd/system/kdump-tools-dump.service.d"
cat > "$S/etc/systemd/system/kdump-tools-dump.service.d/e2e.conf" <<'UNIT'
[Unit]
RequiresMountsFor=/var/crash
[Service]
Environment=E2E_MAKEDUMPFILE=@REF@
ExecStartPre=/bin/sh /var/crash/.e2e/guest/capture.sh /var/crash/e2e
UNIT
sed -i "s|@REF@|${E2E_MDF_REF:-/usr/bin/makedumpfile.distrib}|" "$S/etc/systemd/system/kdump-tools-dump.service.d/e2e.conf"
mb=$(( $(du -sm "$S" | cut -f1) * 12 / 10 + 256 ))
rm -f "$IMG.tmp"; mke2fs -q -t ext4 -L e2edebian -d "$S" "$IMG.tmp" "${mb}M" >&2
for v in "$K61" "$K612"; do cp "$KS/boot/initrd.img-$v" "$IMG.initrd-$v"; done
safe_rm "$S"
mv "$IMG.tmp" "$IMG"
echo "$IMG"
