#!/bin/sh
# debian environment, setup boot (e2e/debian.sh): run kdump-tools' kernel hook on the guest
# itself, as a kernel installation does, so its MODULES=dep initrd fits this machine.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# the running kernel's only (each takes minutes under TCG); another kernel gets its kdump
# initrd when it first boots (debian-first.sh)
v=$(uname -r)
/etc/kernel/postinst.d/kdump-tools "$v" || echo "E2E: kdump-tools hook failed for $v"
# as kdump-config's first load does (check_sysctl_change): the sysctl overrides this initrd
# was made with, else that load removes it and runs the hook again
cp /etc/kdump/sysctl.conf "/var/lib/kdump/latest_sysctls-$v"
ls -l /var/lib/kdump
[ -n "$(ls /var/lib/kdump/initrd.img-* 2>/dev/null)" ] && echo "E2E: setup done"
sync
mount -o remount,ro /
busybox poweroff -f
