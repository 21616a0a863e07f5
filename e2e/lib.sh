# e2e/lib.sh - pieces of e2e/run.sh: kernels, the cyclodump tarball, the initramfs, the
# minimal root disk, running QEMU, reading the dump disk back. Sourced; needs HERE, REPO,
# E2E_DIR. Images are cached under $E2E_DIR/cache, keyed by what they are made from.
CACHE=$E2E_DIR/cache
mkdir -p "$CACHE"
log() { echo "[$(date +%H:%M:%S)] e2e: $*" >&2; }
# safe_rm DIR...: rm -rf that never crosses into another file system and refuses a tree with
# anything mounted below it (a chroot's bind mounts of /dev, /proc, /sys: removing through
# them deletes the host's device nodes)
safe_rm() {
	local d
	for d in "$@"; do
		[ -e "$d" ] || continue
		d=$(cd "$d" && pwd)
		if awk -v p="$d/" 'index($2, p) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
			echo "e2e: refusing to remove $d: something is mounted below it" >&2; exit 3
		fi
		rm -rf --one-file-system "$d"
	done
}

# resolve_kernel 6.1|6.12: sets KVER, KBASE (root holding boot/ and lib/modules/), KERNEL_IMAGE
resolve_kernel() {
	case "$1" in
	6.1)
		KVER=$(dpkg-query -W -f='${Depends}' linux-image-amd64 | sed -n 's/.*linux-image-\(6\.1[^ ,]*\).*/\1/p')
		KBASE=/ ;;
	6.12)
		KVER=6.12.117+deb12-amd64
		KBASE=$E2E_DIR/kernels/6.12
		if [ ! -r "$KBASE/boot/vmlinuz-$KVER" ]; then
			log "fetching linux-image-$KVER"
			mkdir -p "$KBASE" && (cd "$E2E_DIR" && apt-get download "linux-image-$KVER" >&2)
			dpkg-deb -x "$E2E_DIR"/linux-image-"$KVER"_*.deb "$KBASE"
		fi
		[ -s "$KBASE/lib/modules/$KVER/modules.dep" ] || depmod -b "$KBASE" "$KVER" ;;
	*) echo "e2e: --kernel 6.1|6.12" >&2; exit 2 ;;
	esac
	KERNEL_IMAGE=$KBASE/boot/vmlinuz-$KVER
	[ -r "$KERNEL_IMAGE" ] || { echo "e2e: no kernel image $KERNEL_IMAGE" >&2; exit 2; }
}

# the tarball a user installs: E2E_TGZ, else `npm pack` of this checkout
cyclodump_tgz() {
	if [ -n "${E2E_TGZ:-}" ]; then echo "$E2E_TGZ"; return; fi
	local d=$CACHE/pack
	safe_rm "$d"; mkdir -p "$d"
	(cd "$REPO" && npm pack --silent --pack-destination "$d" > "$d/pack.log" 2>&1) || { cat "$d/pack.log" >&2; exit 3; }
	ls "$d"/cyclodump-*.tgz
}

key_of() { cat "$@" | sha256sum | cut -c1-12; }

# initramfs of both kernels: busybox, e2e/guest/init, the modules to mount /dev/vda
build_initramfs() {
	local key out B m f order=()
	key=$(key_of "$HERE/guest/init")
	out=$CACHE/initramfs-$KVER-$key.cpio.gz
	if [ -s "$out" ]; then echo "$out"; return; fi
	B=$CACHE/initramfs.$$
	safe_rm "$B"; mkdir -p "$B"/{bin,etc,proc,sys,dev,root,lib/modules}
	cp /bin/busybox "$B/bin/busybox"
	cp "$HERE/guest/init" "$B/init"; chmod 755 "$B/init"
	add_mod() {
		local d x
		for d in $(modinfo -b "$KBASE" -k "$KVER" -F depends "$1" | tr ',' ' '); do add_mod "$d"; done
		for x in "${order[@]:-}"; do [ "$x" = "$1" ] && return 0; done
		order+=("$1")
	}
	for m in virtio_pci virtio_blk crc32c_generic ext4; do add_mod "$m"; done
	: > "$B/etc/modules.list"
	for m in "${order[@]}"; do
		f=$(modinfo -b "$KBASE" -k "$KVER" -F filename "$m")
		case "$f" in /*) ;; *) continue ;; esac   # built in
		case "$f" in
		*.xz) xz -dc "$f" > "$B/lib/modules/$m.ko" ;;
		*.zst) zstd -qdc "$f" > "$B/lib/modules/$m.ko" ;;
		*) cp "$f" "$B/lib/modules/$m.ko" ;;
		esac
		echo "$m" >> "$B/etc/modules.list"
	done
	(cd "$B" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp.$$"
	mv "$out.tmp.$$" "$out"; safe_rm "$B"
	echo "$out"
}

# copy_with_libs ROOT BINARY...: the binaries and every shared library they load, at the
# same paths under ROOT
copy_with_libs() {
	local root=$1 b; shift
	for b in "$@"; do
		mkdir -p "$root$(dirname "$b")"; cp -L "$b" "$root$b"
		copy_libs "$root" "$b"
	done
}
# copy_libs ROOT FILE: the shared libraries FILE loads (a host path), at their paths under ROOT
copy_libs() {
	local root=$1 l
	for l in $(ldd "$2" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
		[ -e "$root$l" ] || { mkdir -p "$root$(dirname "$l")"; cp -L "$l" "$root$l"; }
	done
}

# install the tarball as a user does (docs/operators.md: npm install -g --allow-scripts=...,
# prefix /usr/local in the guest) into
# ROOT/usr/local; the installed tree is cached per tarball
npm_install_into() {
	local root=$1 tgz=$2 f key c
	key=$(key_of "$tgz")
	c=$CACHE/npm-$key
	if [ ! -d "$c/usr/local" ]; then
		safe_rm "$c.tmp"; mkdir -p "$c.tmp/usr/local"
		npm install -g --allow-scripts=cyclodump,lzo,zstd-napi --prefix "$c.tmp/usr/local" --no-audit --no-fund "$tgz" > "$c.tmp/npm.log" 2>&1 ||
			{ cat "$c.tmp/npm.log" >&2; exit 3; }
		safe_rm "$c"; mv "$c.tmp" "$c"
	fi
	mkdir -p "$root/usr/local"
	cp -a "$c/usr/local/." "$root/usr/local/"
	[ -n "$(find "$c/usr/local" -name pagecodec.node)" ] || { echo "e2e: the native page loop was not built (see $c/npm.log)" >&2; exit 3; }
	# the capture environment has no compiler: the launcher (native/launcher.c) is built here,
	# static, over bin/cyclodump
	[ "$(head -c 4 "$c/usr/local/lib/node_modules/cyclodump/bin/cyclodump" | od -An -c | tr -d ' ')" = 177ELF ] ||
		{ echo "e2e: the launcher was not built (see $c/npm.log)" >&2; exit 3; }
	for f in $(find "$c/usr/local" -name '*.node'); do copy_libs "$root" "$f"; done
}

# the minimal root: busybox, node, cyclodump from the tarball, makedumpfile, GNU time,
# kexec, memhog, the e2e guest scripts, the kernel and initramfs the capture kernel loads
build_minimal_root() {
	local tgz=$1 initrd=$2 key img S a
	key=$(key_of "$tgz" "$initrd" "$HERE"/guest/* ${E2E_MDF_REF:+"$E2E_MDF_REF"})
	img=$CACHE/minimal-$KVER-$key.img
	if [ -s "$img" ]; then echo "$img"; return; fi
	log "building the minimal root disk ($img)"
	S=$CACHE/stage-minimal.$$
	safe_rm "$S"; mkdir -p "$S"/{bin,usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,tmp,run,out,boot,e2e/guest}
	ln -s usr/lib "$S/lib"; ln -s usr/lib64 "$S/lib64"
	cp /bin/busybox "$S/bin/busybox"
	for a in $(busybox --list); do [ -e "$S/bin/$a" ] || ln -s busybox "$S/bin/$a"; done
	ln -s /bin/busybox "$S/usr/bin/env"
	copy_with_libs "$S" /usr/bin/node /usr/bin/makedumpfile /usr/bin/time /usr/sbin/kexec
	[ -z "${E2E_MDF_REF:-}" ] || copy_with_libs "$S" "$E2E_MDF_REF"
	npm_install_into "$S" "$tgz"
	gcc -static -O2 -o "$S/usr/bin/memhog" "$HERE/guest/memhog.c"
	gcc -static -O2 -o "$S/usr/bin/memwatch" "$HERE/guest/memwatch.c"
	cp "$HERE"/guest/* "$S/e2e/guest/"
	cp "$KERNEL_IMAGE" "$S/boot/vmlinuz"; cp "$initrd" "$S/boot/initrd.img"
	# files for the workload's page cache
	mkdir -p "$S/usr/share"; cp -a /usr/share/perl "$S/usr/share/perl" 2>/dev/null || true
	echo /usr/lib/x86_64-linux-gnu > "$S/etc/ld.so.conf"
	ldconfig -r "$S"
	local mb; mb=$(( $(du -sm "$S" | cut -f1) * 13 / 10 + 64 ))
	mke2fs -q -t ext4 -m 0 -L e2eroot -d "$S" "$img.tmp.$$" "${mb}M" >&2
	mv "$img.tmp.$$" "$img"; safe_rm "$S"
	echo "$img"
}

debian_root_image() { "$HERE/debian.sh" "$1" "$2"; }

alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# run_qemu OUT TIMEOUT FAULT QEMU-ARGV...: run the guest to its power-off; FAULT=kill:
# kill QEMU once cyclodump's -l dump has passed E2E_KILL_AT bytes in the guest (default:
# 80% of makedumpfile's -l dump in the same boot, or 16 MiB where there is none; past the
# capture kernel's dirty threshold, below which nothing has been written back, and past
# cyclodump's first durable group of descriptors, 8,192 pages: docs/faults.md). capture.sh
# prints the size 5 times a second and the console is read as often: a -l dump of a 1 GiB
# guest takes about 2 s there, and a kill a second late finds it all written.
kill_at() {
	local ref
	ref=$(grep -aoE "E2E: ref.l [0-9]+" "$1/console.log" 2>/dev/null | tail -1 | cut -d' ' -f3)
	if [ -n "${E2E_KILL_AT:-}" ]; then echo "$E2E_KILL_AT"
	elif [ -n "$ref" ] && [ "$ref" -gt 0 ]; then echo $(( ref * 4 / 5 ))
	else echo 16777216; fi
}
run_qemu() {
	local out=$1 timeout=$2 fault=$3 t=0 ticks=0 killed=0; shift 3
	log "starting QEMU"
	"$@" > "$out/qemu.stderr" 2>&1 &
	local qpid=$!
	while alive "$qpid"; do
		sleep 0.2; ticks=$((ticks + 1)); t=$((ticks / 5))
		if [ "$fault" = kill ] && [ $killed = 0 ] && grep -qE "E2E: cyc.l [0-9]{6,}" "$out/console.log" 2>/dev/null &&
			[ "$(grep -aoE "E2E: cyc.l [0-9]+" "$out/console.log" | tail -1 | cut -d' ' -f3)" -ge "$(kill_at "$out")" ]; then
			log "killing QEMU (pid $qpid) during cyclodump's -l dump"
			kill -9 "$qpid"; killed=1
		fi
		if [ $t -ge "$timeout" ]; then
			log "guest still running after ${timeout}s; stopping QEMU pid $qpid"
			kill "$qpid"; sleep 2; kill -9 "$qpid" 2>/dev/null || true
			wait "$qpid" 2>/dev/null || true
			return 1
		fi
	done
	wait "$qpid" 2>/dev/null || true
	echo "$t" > "$out/guest-seconds"
	log "guest ended after ~${t}s"
	grep -q "E2E: capture kernel up" "$out/console.log" || { log "the capture kernel never started its run"; tail -20 "$out/console.log" >&2; return 1; }
}

# the dump disk's files into OUT/disk (the journal replayed first: a killed guest leaves it)
extract_dump_disk() {
	local out=$1
	e2fsck -fy "$out/dump.img" > "$out/e2fsck.log" 2>&1 || true
	safe_rm "$out/disk"; mkdir -p "$out/disk"
	debugfs -R "rdump / $out/disk" "$out/dump.img" > "$out/debugfs.log" 2>&1
}
