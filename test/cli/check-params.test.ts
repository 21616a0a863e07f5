// Issue 5 (drop-in makedumpfile): the command lines the distributions' kdump scripts really
// build, run through `--check-params` by makedumpfile 1.7.2 and by cyclodump. Both must
// answer alike (exit 0 = valid, non-zero = invalid), because the scripts act on that status:
// RHEL's mkdumprd refuses to build the kdump initramfs when `makedumpfile --check-params`
// fails, and every script falls back to cp/scp or reports a failed dump when makedumpfile
// exits non-zero.
//
// Sources (read with the library search tool; see docs/kdump-scripts.md for the details):
//   Debian/Ubuntu  kdump-tools 1:1.10.3 (Ubuntu 24.04 ships 1:1.10.3ubuntu2)
//                  debian/kdump-config.in, debian/kdump-tools.conf.in, at commit
//                  801051994ac8234b1852702c53dfaceaf70c7805 of the kdump-tools packaging
//                  (GitHub mirror kaloronahuang/kdump-tools; upstream is salsa.debian.org);
//                  older behaviour from the same history (commits named per case).
//   RHEL/Fedora    rhkdump/kdump-utils 63f248c94a4af61e3e2c3d89108020e2b36793a6 (2026-03-18):
//                  dracut/99kdumpbase/kdump.sh, mkdumprd, kdumpctl, gen-kdump-conf.sh;
//                  older behaviour from the same history (commits named per case).
//   SUSE           openSUSE/kdump 34da4b8824555565b3ba2d03da33ec7802a14ecf (2.1.9):
//                  dracut/kdump-save, kdump-read-config.sh; the C++ kdumptool used before
//                  the 2023 shell rewrite: kdumptool/savedump.cc and dataprovider.cc at
//                  0348447ef362a3546c75dd8fbed07f6c2e11d253.
//
// Each case is the argument list as the script's shell word-splits it (the scripts expand
// their option variables unquoted), written as one string and split on blanks here.
import { expect } from 'chai';
import { cyclodump, makedumpfile } from '../helpers/tools';

interface Case {
  /** what produces this command line */
  name: string;
  /** makedumpfile's arguments, as the script's shell splits them (no --check-params) */
  line: string;
  /** makedumpfile 1.7.2's answer: true = exit 0 */
  valid: boolean;
}

interface RefusedCase {
  name: string;
  line: string;
  /** how cyclodump's refusal names the option (optionSynopsis in src/cli/options.ts) */
  option: string;
}

const words = (line: string): string[] => line.split(/\s+/).filter((w) => w.length > 0);

// Timestamps as each script formats them, for 2026-11-22 15:30:12.
const DEB = '202611221530'; // kdump-config: date +"%Y%m%d%H%M"
const RH = '2026-11-22-15:30:12'; // kdump.sh: DATEDIR=$(date +%Y-%m-%d-%T)
const SUSE_OLD = '2026-11-22-15:30'; // kdumptool: ISO_DATETIME "%Y-%m-%d-%H:%M"

// 1. Exactly what the scripts run, with their defaults or the settings they document.
const scriptCases: Case[] = [
  // --- Debian/Ubuntu kdump-tools 1:1.10.3, debian/kdump-config.in ---
  // MAKEDUMP_ARGS defaults to "-F -c -d 31"; kdump_save_core runs
  // `makedumpfile $MAKEDUMP_ARGS $vmcore_file | compress > "$KDUMP_CORETEMP"`
  // (KDUMP_CORETEMP=/var/crash/$STAMP/dump-incomplete); the ssh and ftp paths pipe the
  // same command into ssh ... dd / busybox ftpput.
  { name: 'kdump-tools 1.10.3: local/NFS/ssh/ftp dump, default MAKEDUMP_ARGS', line: '-F -c -d 31 /proc/vmcore', valid: true },
  // dump_dmesg: `makedumpfile --dump-dmesg "$vmcore" "$outfile"`, local file
  { name: 'kdump-tools 1.10.3: dump_dmesg to the stamp directory', line: `--dump-dmesg /proc/vmcore /var/crash/${DEB}/dmesg.${DEB}`, valid: true },
  // ssh and ftp: the log goes to a temporary file first, then scp / ftpput
  { name: 'kdump-tools 1.10.3: dump_dmesg before an ssh upload', line: `--dump-dmesg /proc/vmcore /tmp/dmesg.ssh.${DEB}`, valid: true },
  { name: 'kdump-tools 1.10.3: dump_dmesg before an ftp upload', line: `--dump-dmesg /proc/vmcore /tmp/dmesg.ftp.${DEB}`, valid: true },
  // kdump-tools.conf documents MAKEDUMP_ARGS="-c -d 31"; a line without a leading -F gets
  // " -F" appended: [ "${MAKEDUMP_ARGS#-F*}" != "${MAKEDUMP_ARGS}" ] || MAKEDUMP_ARGS="${MAKEDUMP_ARGS} -F"
  { name: 'kdump-tools 1.10.3: the conf file\'s MAKEDUMP_ARGS="-c -d 31", -F appended', line: '-c -d 31 -F /proc/vmcore', valid: true },
  // kdump-tools up to 1:1.6.8.2 (before commit d70e55c, 2021-03-22): local dumps went
  // straight to the file; ssh/ftp appended -F
  { name: 'kdump-tools <= 1.6.8.2: local dump to dump-incomplete', line: `-c -d 31 /proc/vmcore /var/crash/${DEB}/dump-incomplete`, valid: true },
  { name: 'kdump-tools <= 1.6.8.2: ssh/ftp dump, -F appended', line: '-c -d 31 -F /proc/vmcore', valid: true },
  // kdump-tools 2009-2013 (debian/kdump-config at cab386b): no debug vmlinux -> "-c -d 1"
  { name: 'kdump-tools 2009-2013: no debug kernel, default "-c -d 1"', line: '-c -d 1 /proc/vmcore /var/crash/201311221530/dump-incomplete', valid: true },

  // --- RHEL/Fedora kdump-utils, dracut/99kdumpbase/kdump.sh ---
  // CORE_COLLECTOR="makedumpfile -l --message-level 7 -d 31"; dump_fs runs
  // `$CORE_COLLECTOR /proc/vmcore "$_dump_fs_path/vmcore-incomplete"`, the default target
  // being the root file system mounted at /sysroot
  { name: 'kdump-utils: dump_fs, default core_collector, one CPU', line: `-l --message-level 7 -d 31 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  // get_kdump_confs adds --num-threads=$(nproc) when nproc > 1 and there is no -F/-E
  { name: 'kdump-utils: dump_fs with nproc=4 (--num-threads=4 appended)', line: `-l --message-level 7 -d 31 --num-threads=4 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  // a separate dump target (e.g. "xfs /dev/mapper/rhel-crash" in kdump.conf) is mounted under /kdumproot
  { name: 'kdump-utils: dump_fs to a configured xfs target', line: `-l --message-level 7 -d 31 --num-threads=2 /proc/vmcore /kdumproot/mnt/crash/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  // ssh and raw targets: -F stripped (sed s/-F//g) then appended; no --num-threads with -F
  { name: 'kdump-utils: dump_ssh / dump_raw, default core_collector, -F appended', line: '-l --message-level 7 -d 31 -F /proc/vmcore', valid: true },
  // gen-kdump-conf.sh: s390x's kdump.conf has core_collector makedumpfile -c --message-level 7 -d 31
  { name: 'kdump-utils: s390x default core_collector', line: `-c --message-level 7 -d 31 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  // mkdumprd verify_core_collector: `makedumpfile --check-params $_params vmcore dumpfile`
  // with the literal words "vmcore" and "dumpfile" (and only "vmcore" for ssh/raw)
  { name: 'kdump-utils mkdumprd: check of the default core_collector', line: '-l --message-level 7 -d 31 vmcore dumpfile', valid: true },
  { name: 'kdump-utils mkdumprd: check of the documented ssh/raw core_collector', line: '-F -l --message-level 7 -d 31 vmcore', valid: true },
  { name: 'kdump-utils mkdumprd: check of the s390x core_collector', line: '-c --message-level 7 -d 31 vmcore dumpfile', valid: true },
  // kdumpctl save_raw, on the next boot: `makedumpfile -R "$coredir/vmcore" < "$raw_target"`
  // (coredir=$path/$(date +"%Y-%m-%d-%H:%M")); its exit status says whether a dump was there
  { name: 'kdumpctl save_raw: rebuild from the raw partition', line: '-R /var/crash/2026-11-22-15:30/vmcore', valid: true },
  // kexec-tools 2012-2020 (before commit 3221f4e): --message-level 1
  { name: 'kexec-tools 2012-2020: default core_collector (message level 1)', line: `-l --message-level 1 -d 31 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  { name: 'kexec-tools 2012-2020: ssh core_collector (message level 1)', line: '-F -l --message-level 1 -d 31 /proc/vmcore', valid: true },
  // kdump-utils 2024-11 to 2025-11 (commit d428557): dump_raw added --num-threads after -F
  { name: 'kdump-utils 2024-2025: dump_raw with nproc=4 (-F then --num-threads=4)', line: '-l --message-level 7 -d 31 -F --num-threads=4 /proc/vmcore', valid: true },
  // kexec-tools for RHEL 5 (mkdumprd before commit 57ae098, 2011): kernels without
  // /sys/kernel/vmcoreinfo got "-i /etc/makedumpfile.config --message-level 1" inserted
  { name: 'RHEL 5 mkdumprd: -i VMCOREINFO inserted into core_collector', line: '-i /etc/makedumpfile.config --message-level 1 -c -d 31 /proc/vmcore /mnt/var/crash/127.0.0.1-2011-07-21-10:00:00/vmcore-incomplete', valid: true },

  // --- SUSE kdump 2.1.9, dracut/kdump-save ---
  // DUMP_COMMAND="makedumpfile -F ${FORMAT} ${THREADS} --message-level $MSG_LEVEL -d ${KDUMP_DUMPLEVEL} ${MAKEDUMPFILE_OPTIONS} /proc/vmcore"
  // with stdout into a FIFO read by cat/ssh/lftp. Defaults: KDUMP_DUMPFORMAT=compressed (-c),
  // KDUMP_DUMPLEVEL=31, KDUMP_VERBOSE=0 (message level 6), KDUMP_CPUS=32 capped at nproc.
  { name: 'kdump 2.x: default, nproc=1', line: '-F -c --message-level 6 -d 31 /proc/vmcore', valid: true },
  { name: 'kdump 2.x: default, nproc=8 (--num-threads 8)', line: '-F -c --num-threads 8 --message-level 6 -d 31 /proc/vmcore', valid: true },
  { name: 'kdump 2.x: KDUMP_DUMPFORMAT=lzo', line: '-F -l --message-level 6 -d 31 /proc/vmcore', valid: true },
  { name: 'kdump 2.x: KDUMP_DUMPFORMAT=snappy, KDUMP_CPUS=2', line: '-F -p --num-threads 2 --message-level 6 -d 31 /proc/vmcore', valid: true },
  { name: 'kdump 2.x: KDUMP_DUMPFORMAT=zstd (also the fallback for an unknown format)', line: '-F -z --message-level 6 -d 31 /proc/vmcore', valid: true },
  // ELF forces CPUS=1, so no --num-threads
  { name: 'kdump 2.x: KDUMP_DUMPFORMAT=ELF', line: '-F -E --message-level 6 -d 31 /proc/vmcore', valid: true },
  // KDUMP_VERBOSE bit 8 adds debug (8), bit 2 adds progress (1)
  { name: 'kdump 2.x: KDUMP_VERBOSE=10 (message level 15), KDUMP_DUMPLEVEL=0', line: '-F -c --num-threads 4 --message-level 15 -d 0 /proc/vmcore', valid: true },
  // the kernel log: `makedumpfile -F --message-level 8 --dump-dmesg /proc/vmcore > $SOURCE`
  // (the script reads OSRELEASE= and CRASHTIME= from the debug output on stderr)
  { name: 'kdump 2.x: dmesg through the FIFO', line: '-F --message-level 8 --dump-dmesg /proc/vmcore', valid: true },

  // --- SUSE kdump 1.0.x, kdumptool/savedump.cc + dataprovider.cc (before the 2023 rewrite) ---
  // cmdline = "makedumpfile " [--split ] [--num-threads N ] MAKEDUMPFILE_OPTIONS " -d " LEVEL
  // [-X ] [-E |-c |-l |-p |-z ] /proc/vmcore; local, NFS and CIFS targets append the file
  // name(s), ssh/sftp/ftp targets append " -F" after the vmcore.
  { name: 'kdumptool: local file, defaults (KDUMP_CPUS=1, compressed, level 31)', line: `-d 31 -c /proc/vmcore /var/crash/${SUSE_OLD}/vmcore`, valid: true },
  { name: 'kdumptool: ssh/sftp/ftp target, -F after the vmcore', line: '-d 31 -c /proc/vmcore -F', valid: true },
  // KDUMP_CPUS=4: threads = cpus - 1
  { name: 'kdumptool: KDUMP_CPUS=4 (--num-threads 3), lzo', line: `--num-threads 3 -d 31 -l /proc/vmcore /var/crash/${SUSE_OLD}/vmcore`, valid: true },
  // KDUMPTOOL_FLAGS=SPLIT, KDUMP_CPUS=4: one file per CPU, spread round-robin over the
  // KDUMP_SAVEDIR entries (here two local directories)
  { name: 'kdumptool: KDUMPTOOL_FLAGS=SPLIT over two save directories', line: `--split -d 31 -c /proc/vmcore /var/crash/${SUSE_OLD}/vmcore1 /srv/crash/${SUSE_OLD}/vmcore2 /var/crash/${SUSE_OLD}/vmcore3 /srv/crash/${SUSE_OLD}/vmcore4`, valid: true },
  { name: 'kdumptool: KDUMP_DUMPFORMAT=ELF, level 31 (no threads for ELF)', line: `-d 31 -E /proc/vmcore /var/crash/${SUSE_OLD}/vmcore`, valid: true },
  // the kernel log: direct "makedumpfile --dump-dmesg /proc/vmcore" + file, or piped with -F
  { name: 'kdumptool: dmesg.txt to a local directory', line: `--dump-dmesg /proc/vmcore /var/crash/${SUSE_OLD}/dmesg.txt`, valid: true },
  { name: 'kdumptool: dmesg over the network (-F after --dump-dmesg)', line: '--dump-dmesg -F /proc/vmcore', valid: true },
];

// 2. Settings a user can write into the scripts' configuration, as the scripts pass them on.
const userCases: Case[] = [
  // /etc/default/kdump-tools MAKEDUMP_ARGS (examples seen in the wild: "-c --message-level 1 -d 31",
  // "-l --message-level 1 -d 31", "-c -d 0"); kdump-config appends -F when it is not first
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c --message-level 1 -d 31"', line: '-c --message-level 1 -d 31 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-l --message-level 1 -d 31"', line: '-l --message-level 1 -d 31 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 0" (full dump)', line: '-c -d 0 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-z -d 31"', line: '-z -d 31 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-E -d 31" (flattened ELF)', line: '-E -d 31 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31,1" (retry level)', line: '-c -d 31,1 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 --num-threads 4"', line: '-c -d 31 --num-threads 4 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 -L 10G --cyclic-buffer 1024"', line: '-c -d 31 -L 10G --cyclic-buffer 1024 -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 -F" (-F not first: appended again)', line: '-c -d 31 -F -F /proc/vmcore', valid: true },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 --work-dir /var/tmp -e"', line: '-c -d 31 --work-dir /var/tmp -e -F /proc/vmcore', valid: true },
  // kdump.conf core_collector (RHEL): the documented "-c" variant, a user's -F on a local
  // target (stripped), a user's own --num-threads (kdump.sh still appends its own), -D
  { name: 'kdump-utils: core_collector makedumpfile -c --message-level 1 -d 31', line: `-c --message-level 1 -d 31 --num-threads=4 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  { name: 'kdump-utils: core_collector with -F on a local target (sed removes it)', line: `-l --message-level 7 -d 31 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  { name: 'kdump-utils: core_collector with --num-threads 8, nproc=4', line: `-z --message-level 7 -d 31 --num-threads 8 --num-threads=4 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  { name: 'kdump-utils: core_collector -l --message-level 31 -d 31 -D --show-stats', line: `-l --message-level 31 -d 31 -D --show-stats /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  { name: 'kdump-utils: core_collector -c -l -d 31 (the last codec wins)', line: '-c -l -d 31 vmcore dumpfile', valid: true },
  { name: 'kdump-utils: core_collector -E -d 31 on one CPU (nothing appended)', line: `-E -d 31 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: true },
  // /etc/sysconfig/kdump MAKEDUMPFILE_OPTIONS (SUSE)
  { name: 'kdump 2.x: MAKEDUMPFILE_OPTIONS="--non-mmap --cyclic-buffer 2048"', line: '-F -z --message-level 6 -d 31 --non-mmap --cyclic-buffer 2048 /proc/vmcore', valid: true },
  { name: 'kdump 2.x: MAKEDUMPFILE_OPTIONS="-d 1" (overrides KDUMP_DUMPLEVEL)', line: '-F -c --message-level 6 -d 31 -d 1 /proc/vmcore', valid: true },
];

// 3. Invalid command lines that bad configuration (or a script bug) makes the scripts run:
// makedumpfile rejects them, and so must cyclodump.
const invalidCases: Case[] = [
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -E -d 31" (compression with ELF)', line: '-c -E -d 31 -F /proc/vmcore', valid: false },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 --split" (split with the forced -F)', line: '-c -d 31 --split -F /proc/vmcore', valid: false },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 63"', line: '-c -d 63 -F /proc/vmcore', valid: false },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c --message-level 32 -d 31"', line: '-c --message-level 32 -d 31 -F /proc/vmcore', valid: false },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 -L 2X"', line: '-c -d 31 -L 2X -F /proc/vmcore', valid: false },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 -e" (no --work-dir)', line: '-c -d 31 -e -F /proc/vmcore', valid: false },
  { name: 'kdump-tools: MAKEDUMP_ARGS="-c -d 31 --partial-dmesg"', line: '-c -d 31 --partial-dmesg -F /proc/vmcore', valid: false },
  // RHEL-75537 (fixed by kdump-utils commit 9a51c4b, 2025-11-28): core_collector
  // "makedumpfile -E -d 31" plus the --num-threads kdump.sh appended
  { name: 'kdump-utils 2024-2025: core_collector -E -d 31 with nproc=4', line: `-E -d 31 --num-threads=4 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: false },
  // kdump-utils since commit 837f1c9 (2025-11-28): for an ssh or raw target get_kdump_confs
  // appends -F once for all, and failure_action dump_to_rootfs then runs dump_fs with it
  { name: 'kdump-utils HEAD: ssh target + failure_action dump_to_rootfs (-F and two files)', line: `-l --message-level 7 -d 31 -F /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: false },
  { name: 'kdump-utils mkdumprd: core_collector makedumpfile -c -E -d 31', line: '-c -E -d 31 vmcore dumpfile', valid: false },
  { name: 'kdump-utils: core_collector with a typo (--message_level)', line: `-l --message_level 1 -d 31 /proc/vmcore /sysroot/var/crash/127.0.0.1-${RH}/vmcore-incomplete`, valid: false },
  { name: 'kdump 2.x: KDUMP_DUMPFORMAT=ELF, MAKEDUMPFILE_OPTIONS="-c"', line: '-F -E --message-level 6 -d 31 -c /proc/vmcore', valid: false },
  { name: 'kdump 2.x: KDUMP_DUMPFORMAT=ELF, MAKEDUMPFILE_OPTIONS="--num-threads 4"', line: '-F -E --message-level 6 -d 31 --num-threads 4 /proc/vmcore', valid: false },
  { name: 'kdump 2.x: MAKEDUMPFILE_OPTIONS="--split" (with the forced -F)', line: '-F -c --message-level 6 -d 31 --split /proc/vmcore', valid: false },
  { name: 'kdump 2.x: MAKEDUMPFILE_OPTIONS="-d 40"', line: '-F -z --message-level 6 -d 31 -d 40 /proc/vmcore', valid: false },
  // kdumptool checks KDUMP_DUMPLEVEL's range but passes the unchecked value to -d
  { name: 'kdumptool: KDUMP_DUMPLEVEL=32', line: `-d 32 -c /proc/vmcore /var/crash/${SUSE_OLD}/vmcore`, valid: false },
  // KDUMPTOOL_FLAGS=SPLIT with a network target: the pipe command gets " -F" appended
  { name: 'kdumptool: KDUMPTOOL_FLAGS=SPLIT with an ssh target (--split and -F)', line: '--split -d 31 -c /proc/vmcore -F', valid: false },
  { name: 'kdumptool: SPLIT with MAKEDUMPFILE_OPTIONS="--num-threads 4"', line: `--split --num-threads 4 -d 31 -c /proc/vmcore /var/crash/${SUSE_OLD}/vmcore1 /var/crash/${SUSE_OLD}/vmcore2`, valid: false },
];

// 4. Options cyclodump deliberately refuses (status 'unsupported' in src/cli/options.ts) that
// scripts really passed: makedumpfile accepts the line, cyclodump exits non-zero naming it.
const refusedCases: RefusedCase[] = [
  // kdumptool: Xen dumps without KDUMPTOOL_FLAGS=XENALLDOMAINS get -X after the level
  { name: 'kdumptool: Xen dump (excludeDomU)', line: `-d 31 -X -c /proc/vmcore /var/crash/${SUSE_OLD}/vmcore`, option: '-X' },
  { name: 'kdumptool: Xen dump over ssh', line: '-d 31 -X -c /proc/vmcore -F', option: '-X' },
  // kdump-tools 2009-2013 (debian/kdump-config at cab386b, removed by 67982b8):
  // MAKEDUMP_ARGS="$MAKEDUMP_ARGS -x $DEBUG_KERNEL" when linux-image-*-dbg was installed
  { name: 'kdump-tools 2009-2013: debug vmlinux from linux-image-*-dbg', line: '-c -d 31 -x /usr/lib/debug/boot/vmlinux-3.2.0-4-amd64 /proc/vmcore /var/crash/201311221530/dump-incomplete', option: '-x VMLINUX' },
  // RHEL 5 mkdumprd (before 57ae098): VMCOREINFO generated from the debuginfo vmlinux
  { name: 'RHEL 5 mkdumprd: makedumpfile -g ... -x vmlinux', line: '-g /etc/makedumpfile.config -x /usr/lib/debug/lib/modules/2.6.18-274.el5/vmlinux', option: '-g VMCOREINFO' },
  { name: 'RHEL 5 mkdumprd: makedumpfile -g ... --xen-syms (Xen dom0)', line: '-g /etc/makedumpfile.config --xen-syms /usr/lib/debug/boot/xen-syms-2.6.18-274.el5.debug', option: '-g VMCOREINFO' },
  { name: 'RHEL 5 mkdumprd: --xen-vmcoreinfo inserted on a Xen dom0', line: '--xen-vmcoreinfo /etc/makedumpfile.config --message-level 1 -c -d 31 /proc/vmcore /mnt/var/crash/127.0.0.1-2011-07-21-10:00:00/vmcore-incomplete', option: '--xen-vmcoreinfo' },
];

function exitStatuses(line: string): { m: ReturnType<typeof makedumpfile>; c: ReturnType<typeof cyclodump> } {
  const args = ['--check-params', ...words(line)];
  return { m: makedumpfile(args), c: cyclodump(args) };
}

describe('--check-params: the kdump scripts\' command lines, as makedumpfile 1.7.2 answers', function () {
  for (const [group, cases] of [
    ['command lines the scripts build', scriptCases],
    ['command lines from user configuration', userCases],
    ['invalid command lines from bad configuration', invalidCases],
  ] as const) {
    describe(group, function () {
      for (const c of cases) {
        it(`${c.name}: makedumpfile ${c.line}`, function () {
          const { m, c: r } = exitStatuses(c.line);
          // the table states makedumpfile's answer, so a changed reference is noticed
          expect(m.code === 0, `makedumpfile exit ${m.code}\n${m.stdout}${m.stderr}`).to.equal(c.valid);
          expect(r.code === 0, `cyclodump exit ${r.code} (makedumpfile ${m.code})\n${r.stdout}${r.stderr}`).to.equal(m.code === 0);
          if (!c.valid) {
            // rejected as makedumpfile does it: status 1, and a reason on stderr
            expect(r.code).to.equal(1);
            expect(r.stderr).to.match(/\S/);
          }
        });
      }
    });
  }

  describe('options cyclodump refuses, as the scripts passed them', function () {
    for (const c of refusedCases) {
      it(`${c.name}: makedumpfile ${c.line}`, function () {
        const { m, c: r } = exitStatuses(c.line);
        expect(m.code, `makedumpfile accepts it\n${m.stdout}${m.stderr}`).to.equal(0);
        expect(r.code, `cyclodump refuses it\n${r.stdout}${r.stderr}`).to.not.equal(0);
        const escaped = c.option.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
        expect(r.stderr).to.match(new RegExp(`(^|\\s)${escaped}( [A-Z-]+)? is not supported: `));
      });
    }
  });

  it('covers at least 30 command lines the scripts build or their configuration produces', function () {
    expect(scriptCases.length + userCases.length + invalidCases.length + refusedCases.length).to.be.at.least(30);
    expect(scriptCases.length).to.be.at.least(30);
  });
});
