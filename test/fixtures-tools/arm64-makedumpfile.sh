#!/bin/bash
# arm64-makedumpfile.sh - the reference for arm64 dumps: Debian's own arm64 build of
# makedumpfile 1.7.2 (the same source as the x86_64 reference), run on this x86_64 host
# under qemu-user-static.
#
# usage: arm64-makedumpfile.sh DIR
#   Unpacks makedumpfile:arm64 and the arm64 libraries it loads (dpkg -x of the .debs
#   from the Debian archive) into DIR/root and writes DIR/makedumpfile, a wrapper that
#   runs it with qemu-aarch64-static. Does nothing when DIR/makedumpfile already works.
#   Needs: qemu-user-static, and arm64 in dpkg's foreign architectures with a fresh
#   package list (dpkg --add-architecture arm64 && apt-get update); with INSTALL=1 the
#   script does both.
#
# Why this and not upstream built for aarch64 here: the x86_64 reference is Debian's
# makedumpfile 1.7.2, and Debian builds the arm64 one from the same source package; an
# emulated binary of the distribution's build is the tool a Debian arm64 user runs.
set -euo pipefail
[ $# -eq 1 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
DIR=$1
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ -x "$DIR/makedumpfile" ] && "$DIR/makedumpfile" -v >/dev/null 2>&1; then
	echo "$DIR/makedumpfile"
	exit 0
fi
if [ "${INSTALL:-0}" = 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	command -v qemu-aarch64-static >/dev/null || { apt-get update -q; apt-get install -y -q qemu-user-static; }
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		apt-get update -q
	fi
fi
command -v qemu-aarch64-static >/dev/null || { echo "qemu-aarch64-static is missing (apt-get install qemu-user-static)" >&2; exit 1; }
# makedumpfile and the libraries it and they load (Depends of makedumpfile, libdw1, libelf1;
# libgcc-s1: glibc loads it for pthread_exit, which --num-threads uses)
PKGS="makedumpfile:arm64 libc6:arm64 libdw1:arm64 libelf1:arm64 liblzo2-2:arm64 zlib1g:arm64
      libbz2-1.0:arm64 liblzma5:arm64 libzstd1:arm64 libgcc-s1:arm64"
DEBS=$DIR/debs
rm -rf "$DEBS" "$DIR/root"
mkdir -p "$DEBS" "$DIR/root"
# apt's download sandbox user cannot write to every directory: download as root, quietly
(cd "$DEBS" && apt-get download -q $PKGS 2>&1 | grep -v 'unsandboxed' >&2) || true
for p in $PKGS; do
	ls "$DEBS/${p%%:*}"_*_arm64.deb >/dev/null 2>&1 \
		|| { echo "could not download $p (is arm64 a foreign architecture, with apt-get update done?)" >&2; exit 1; }
done
for d in "$DEBS"/*.deb; do dpkg-deb -x "$d" "$DIR/root"; done
cat > "$DIR/makedumpfile" <<EOF
#!/bin/sh
# Debian's arm64 makedumpfile under user-mode emulation (made by arm64-makedumpfile.sh)
# (glibc finds libgcc_s, which pthread_exit loads, only on LD_LIBRARY_PATH under qemu-user)
exec qemu-aarch64-static -L "$DIR/root" -E LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu \\
	"$DIR/root/usr/bin/makedumpfile" "\$@"
EOF
chmod 755 "$DIR/makedumpfile"
"$DIR/makedumpfile" -v >&2
(cd "$DEBS" && ls *.deb) > "$DIR/packages.txt"
rm -rf "$DEBS"
echo "$DIR/makedumpfile"
