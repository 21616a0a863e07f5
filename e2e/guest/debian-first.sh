#!/bin/sh
# debian environment, first kernel (e2e-workload.service, after kdump-tools.service loaded
# the capture kernel): nr_cpus as asked, the workload, sysrq-c.
step() { echo "E2E: $*"; echo "e2e: $*" > /dev/kmsg; }
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
N=$(arg e2e.nr_cpus)
if [ ! -e "/var/lib/kdump/initrd.img-$(uname -r)" ]; then
	# a kernel the setup boot did not run kdump-tools' hook for (e2e/debian.sh)
	step "kdump-tools hook for $(uname -r)"
	/etc/kernel/postinst.d/kdump-tools "$(uname -r)"
	kdump-config unload; kdump-config load
fi
if [ "${N:-1}" != 1 ]; then
	# the user's knob: KDUMP_CMDLINE_APPEND, the package's default with nr_cpus=N
	echo "KDUMP_CMDLINE_APPEND=\"reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=$N irqpoll usbcore.nousb\"" >> /etc/default/kdump-tools
	kdump-config reload
fi
kdump-config show 2>&1 | while read -r l; do step "  $l"; done
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || { step "capture kernel not loaded"; systemctl poweroff; exit 1; }
PATH=/var/crash/.e2e/bin:$PATH sh /var/crash/.e2e/guest/workload.sh "$(arg e2e.workload)"
step "crashing via sysrq-trigger"
# the panic on CPU 0: a 6.9+ capture kernel started on another CPU leaves the boot CPU out
# ("Disabling real BSP to prevent machine INIT"), which on a 2-vCPU guest leaves one CPU
# for nr_cpus=2 (perf/RESULTS.md); on a larger machine nr_cpus=N still finds N
taskset -c 0 sh -c 'echo c > /proc/sysrq-trigger' || echo c > /proc/sysrq-trigger
