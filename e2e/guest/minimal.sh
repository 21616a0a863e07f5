#!/bin/sh
# init of the `minimal` environment (root: the read-only tools disk, see e2e/run.sh).
# First kernel: load the capture kernel with `kexec -p` and the command line Debian's
# kdump-config builds, run the workload, crash with sysrq-c.
# Capture kernel (/proc/vmcore exists): run e2e/guest/capture.sh, power off.
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o size=16m tmpfs /tmp
mount -t tmpfs -o size=4m tmpfs /run
step() { echo "E2E: $*"; echo "e2e: $*" > /dev/kmsg; }
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }

if [ -e /proc/vmcore ]; then
	mount -t ext4 /dev/vdb /out || step "mount /dev/vdb failed"
	MDF=$(arg e2e.mdf)
	E2E_MAKEDUMPFILE=${MDF:-/usr/bin/makedumpfile} E2E_FAULT=$(arg e2e.fault) sh /e2e/guest/capture.sh /out
	sync
	umount /out
	step "capture done"
	poweroff -f
	sleep 1000
fi

NR_CPUS=$(arg e2e.nr_cpus)
# kdump-config (kdump-tools 1:1.8.1, bookworm): /proc/cmdline without crashkernel=,
# hugepages=, hugepagesz=, abm=, then KDUMP_CMDLINE_APPEND (its default, nr_cpus=N instead
# of nr_cpus=1 when the run asks for more CPUs)
CMDLINE=$(sed -re 's/(^| )(crashkernel|hugepages|hugepagesz|abm)=[^ ]*//g' /proc/cmdline)
CMDLINE="$CMDLINE reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=${NR_CPUS:-1} irqpoll usbcore.nousb"
step "kexec -p /boot/vmlinuz --initrd=/boot/initrd.img --command-line=\"$CMDLINE\""
if ! kexec -p /boot/vmlinuz --initrd=/boot/initrd.img --command-line="$CMDLINE"; then
	step "kexec -p failed"; poweroff -f
fi
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || { step "capture kernel not loaded"; poweroff -f; }
sh /e2e/guest/workload.sh "$(arg e2e.workload)"
step "crashing via sysrq-trigger"
echo 1 > /proc/sys/kernel/sysrq
# the panic on CPU 0: a 6.9+ capture kernel started on another CPU leaves the boot CPU out
# ("Disabling real BSP to prevent machine INIT"), which on a 2-vCPU guest leaves one CPU
# for nr_cpus=2 (perf/RESULTS.md); on a larger machine nr_cpus=N still finds N
taskset -c 0 sh -c 'echo c > /proc/sysrq-trigger' || echo c > /proc/sysrq-trigger
sleep 1000
