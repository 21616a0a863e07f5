#!/usr/bin/python3
"""e2e/check.py RUNDIR: the host's checks on one e2e round trip (e2e/run.sh).

RUNDIR/disk holds what the capture kernel wrote: mdf.* (the reference makedumpfile) and
cyc.* (cyclodump) from the same /proc/vmcore, *.time (GNU time -v), results.txt, env.txt.
Checks:
  -l     cyc.l (written with --pfn-order, see guest/capture.sh) byte for byte makedumpfile's,
         and bitmaps, descriptors' flags and every page
  -F     both streams rebuilt with makedumpfile -R: bitmaps and every page equal
  dmesg  identical files
  libkdumpfile  opens cyclodump's dumps and reads every dumpable page as makedumpfile's
--agree (6.12 with makedumpfile 1.7.2, whose page classes are wrong there): only what both
must agree on: the first bitmap, and every page both keep; the differences are counted.
--fault disk-full|kill: cyclodump's -l dump is incomplete: it opens in libkdumpfile, every
page it holds is makedumpfile's page, the others read as missing, never as other data.
Writes RUNDIR/result.json and prints one summary line. Exit 0 only if all checks hold.
"""
import json, os, re, struct, subprocess, sys, zlib

MDF_HOST = os.environ.get("E2E_MDF_HOST", "/usr/bin/makedumpfile")


def parse_time(path):
    r = {}
    if not os.path.exists(path):
        return r
    t = open(path, errors="replace").read()
    m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", t)
    if m:
        r["wall_s"] = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
    if m:
        r["max_rss_kb"] = int(m.group(1))
    for key, label in (("rss_anon_kb", "Peak RssAnon"), ("rss_file_kb", "Peak RssFile"),
                       ("rss_shmem_kb", "Peak RssShmem"), ("threads", "Peak Threads"),
                       ("major_faults", "Major \\(requiring I/O\\) page faults")):
        m = re.search(label + r" \(kbytes\): (\d+)" if "Peak Rss" in label else label + r": (\d+)", t)
        if m:
            r[key] = int(m.group(1))
    if "Killed after the time limit" in t:
        r["timed_out"] = True
    m = re.search(r"Exit status: (\d+)", t)
    if m:
        r["exit"] = int(m.group(1))
    m = re.search(r"terminated by signal (\d+)", t)
    if m:
        r["signal"] = int(m.group(1))
    return r


class Kdump:
    """The parts of a kdump-compressed file the checks need (makedumpfile's diskdump_mod.h)."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb")
        h = self.f.read(4096)
        if h[:8] != b"KDUMP   ":
            raise ValueError("%s: not a kdump-compressed file" % path)
        self.version, = struct.unpack_from("<i", h, 8)
        (self.status, self.block_size, self.sub_hdr_size, self.bitmap_blocks,
         max_mapnr) = struct.unpack_from("<IiiII", h, 424)
        self.f.seek(self.block_size)
        sub = self.f.read(104)
        self.max_mapnr = struct.unpack_from("<Q", sub, 96)[0] if self.version >= 6 else max_mapnr
        self.dump_level, = struct.unpack_from("<i", sub, 8)
        self.f.seek(self.block_size * (1 + self.sub_hdr_size))
        bm = self.f.read(self.bitmap_blocks * self.block_size)
        half = len(bm) // 2
        self.bitmap1, self.bitmap2 = bm[:half], bm[half:]
        self.desc_off = self.block_size * (1 + self.sub_hdr_size + self.bitmap_blocks)
        self.size = os.path.getsize(path)

    def pfns(self):
        """The dumpable pfns, in order (set bits of the 2nd bitmap)."""
        out = []
        b2 = self.bitmap2
        for i, byte in enumerate(b2):
            if byte:
                for bit in range(8):
                    if byte >> bit & 1:
                        out.append(i * 8 + bit)
        return [p for p in out if p < self.max_mapnr]

    def descs(self, n):
        """Up to n page descriptors (offset, size, flags); fewer if the file ends."""
        self.f.seek(self.desc_off)
        raw = self.f.read(24 * n)
        return [struct.unpack_from("<qII", raw, i * 24) for i in range(len(raw) // 24)]

    def page(self, desc):
        """The page's bytes if this script can decode it (raw or zlib), else None."""
        off, size, flags = desc
        if off <= 0 or off + size > self.size:
            return None
        self.f.seek(off)
        data = self.f.read(size)
        if flags == 0 and size == self.block_size:
            return data
        if flags & 1:
            return zlib.decompress(data)
        return None


def first_diff(a, b):
    if a == b:
        return -1
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def same_file(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        off = 0
        while True:
            p, q = x.read(1 << 20), y.read(1 << 20)
            if p != q:
                d = first_diff(p, q)
                return off + d
            if not p:
                return -1
            off += len(p)


def kdf_reader(path):
    import kdumpfile
    k = kdumpfile.kdumpfile(path)

    def read(pfn):
        try:
            return bytes(k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096))
        except kdumpfile.exceptions.NoDataException:
            return None
    return read


def compare_dumps(ours, ref, agree=False):
    """Bitmaps and every page of two kdump files. Pages this script cannot decode (LZO,
    snappy, zstd) are read through libkdumpfile. Returns a dict with ok and figures."""
    a, b = Kdump(ours), Kdump(ref)
    r = {"max_mapnr": [a.max_mapnr, b.max_mapnr]}
    r["bitmap1_diff"] = first_diff(a.bitmap1, b.bitmap1)
    pa, pb = a.pfns(), b.pfns()
    r["pages"] = [len(pa), len(pb)]
    r["bitmap2_diff"] = first_diff(a.bitmap2, b.bitmap2)
    da, db = dict(zip(pa, a.descs(len(pa)))), dict(zip(pb, b.descs(len(pb))))
    both = sorted(set(pa) & set(pb))
    r["only_ours"], r["only_ref"] = len(set(pa) - set(pb)), len(set(pb) - set(pa))
    ka = kb = None
    bad = []
    for pfn in both:
        x, y = a.page(da[pfn]), b.page(db[pfn])
        if x is None:
            ka = ka or kdf_reader(ours)
            x = ka(pfn)
        if y is None:
            kb = kb or kdf_reader(ref)
            y = kb(pfn)
        if x != y or x is None:
            bad.append(pfn)
    r["pages_compared"], r["page_mismatches"] = len(both), len(bad)
    if bad:
        r["first_mismatch_pfns"] = bad[:5]
    same_geometry = a.max_mapnr == b.max_mapnr and r["bitmap1_diff"] == -1
    if agree:
        r["ok"] = same_geometry and not bad and len(both) > 0
    else:
        r["ok"] = same_geometry and r["bitmap2_diff"] == -1 and not bad and len(both) > 0
    return r


def libkdumpfile_reads(ours, ref):
    """libkdumpfile reads every dumpable page of our file as the reference's page."""
    a, b = Kdump(ours), Kdump(ref)
    pb = b.pfns()
    db = dict(zip(pb, b.descs(len(pb))))
    read = kdf_reader(ours)
    kb = None
    r = {"read": 0, "mismatches": 0, "missing": 0}
    for pfn in a.pfns():
        x = read(pfn)
        if pfn not in db:
            continue
        y = b.page(db[pfn])
        if y is None:
            kb = kb or kdf_reader(ref)
            y = kb(pfn)
        if x is None:
            r["missing"] += 1
        elif x != y:
            r["mismatches"] += 1
        else:
            r["read"] += 1
    r["ok"] = r["read"] > 0 and r["mismatches"] == 0 and r["missing"] == 0
    return r


def incomplete_reads(ours, ref):
    """An incomplete dump (disk full, guest killed): libkdumpfile opens it; each page it
    holds is the reference's page; each other page of the reference cannot be read (no
    data, or libkdumpfile's error on a descriptor never written, or its data past the end
    of the file: past_end), never other bytes."""
    r = {"opens": False, "held": 0, "no_data": 0, "read_error": 0, "wrong": 0, "errors": {}}
    try:
        read = kdf_reader(ours)
        r["opens"] = True
    except Exception as ex:  # noqa: BLE001 - the check reports it
        r["error"] = repr(ex)
        r["ok"] = False
        return r
    b = Kdump(ref)
    pb = b.pfns()
    kb = None
    # a descriptor whose data lies past the end of the file (a power cut wrote the
    # descriptor back, not the data): libkdumpfile maps the file and dies of SIGBUS there,
    # so such pages are counted apart and not asked for
    a = Kdump(ours)
    pa = a.pfns()
    past = {pfn for pfn, (off, size, _) in zip(pa, a.descs(len(pa))) if off > 0 and off + size > a.size}
    r["past_end"] = 0
    for pfn, d in zip(pb, b.descs(len(pb))):
        if pfn in past:
            r["past_end"] += 1
            continue
        try:
            x = read(pfn)
        except Exception as ex:  # noqa: BLE001 - an error is not data
            r["read_error"] += 1
            e = repr(ex)[:80]
            r["errors"][e] = r["errors"].get(e, 0) + 1
            continue
        if x is None:
            r["no_data"] += 1
            continue
        y = b.page(d)
        if y is None:
            kb = kb or kdf_reader(ref)
            y = kb(pfn)
        if x == y:
            r["held"] += 1
        else:
            r["wrong"] += 1
    r["ok"] = r["opens"] and r["wrong"] == 0 and r["held"] > 0 and r["no_data"] + r["read_error"] + r["past_end"] > 0
    return r


def kdump_tools_check(dirs, p, agree):
    """debian: what kdump-tools' own savecore wrote with cyclodump in makedumpfile's place
    (/var/crash/STAMP/dump.STAMP, flattened, and dmesg.STAMP) is makedumpfile's output."""
    if len(dirs) != 1:
        return {"ok": False, "error": "kdump-tools directories: %d" % len(dirs)}
    d = dirs[0]
    stamp = os.path.basename(d)
    dump, dm = os.path.join(d, "dump." + stamp), os.path.join(d, "dmesg." + stamp)
    r = {"dir": stamp, "dump": os.path.exists(dump), "dmesg": os.path.exists(dm)}
    if not (r["dump"] and r["dmesg"]) or not os.path.exists(p("mdf.F.dump")):
        r["ok"] = False
        return r
    out = os.path.join(os.path.dirname(p("x")), "kdump-tools.dump")
    r["rebuild_exit"] = rebuild(dump, out)
    if r["rebuild_exit"] == 0:
        r["pages"] = compare_dumps(out, p("mdf.F.dump"), agree)
    # against makedumpfile 1.7.2's log when the reference is newer (see capture.sh)
    ref = "m172.dmesg" if os.path.exists(p("m172.dmesg")) else "mdf.dmesg"
    r["dmesg_identical"] = same_file(dm, p(ref)) == -1
    r["dmesg_against"] = ref
    r["ok"] = r["rebuild_exit"] == 0 and r["pages"]["ok"] and r["dmesg_identical"]
    return r


def rebuild(flat, out):
    if os.path.exists(out):
        os.unlink(out)
    with open(flat, "rb") as f:
        p = subprocess.run([MDF_HOST, "-R", out], stdin=f, capture_output=True, text=True)
    return p.returncode


def main():
    args = sys.argv[1:]
    agree = "--agree" in args
    fault = None
    if "--fault" in args:
        fault = args[args.index("--fault") + 1]
    run = [a for a in args if not a.startswith("--") and a not in (fault,)][0]
    D = os.path.join(run, "disk")
    # debian: the records are in /var/crash/e2e, kdump-tools' own dump in /var/crash/STAMP
    kdump_tools = sorted(os.path.join(D, d) for d in os.listdir(D) if re.fullmatch(r"\d{12}", d)) if os.path.isdir(D) else []
    if os.path.isdir(os.path.join(D, "e2e")):
        D = os.path.join(D, "e2e")
    info = open(os.path.join(run, "run.txt")).read().split()
    if fault is None:
        fault = next((w.split("=", 1)[1] for w in info if w.startswith("fault=")), "none")
    if not agree and info[0] == "6.12" and "makedumpfile makedumpfile: version 1.7.2" in open(os.path.join(D, "env.txt")).read():
        agree = True
    res = {"run": os.path.basename(run), "info": info, "fault": fault, "agree_only": agree, "tools": {}, "checks": {}}
    res["env"] = open(os.path.join(D, "env.txt")).read().splitlines() if os.path.exists(os.path.join(D, "env.txt")) else []
    avail = {}
    if os.path.exists(os.path.join(D, "results.txt")):
        for line in open(os.path.join(D, "results.txt")):
            w = line.split()
            m = re.search(r"mem_available_kb=(\d+)", line)
            if w and m:
                avail[w[0]] = int(m.group(1))
    for name in ("mdf-F", "cyc-F", "mdf-dmesg", "cyc-dmesg", "mdf-l", "cyc-l"):
        t = parse_time(os.path.join(D, name + ".time"))
        if t:
            t["mem_available_kb"] = avail.get(name)
            res["tools"][name] = t
    C = res["checks"]

    def exit0(n):
        return res["tools"].get(n, {}).get("exit") == 0

    p = lambda n: os.path.join(D, n)  # noqa: E731
    if fault == "none":
        C["exit_status"] = {"ok": all(exit0(n) for n in ("mdf-F", "cyc-F", "mdf-dmesg", "cyc-dmesg", "mdf-l", "cyc-l"))}
        if exit0("mdf-l") and exit0("cyc-l"):
            d = same_file(p("cyc.l"), p("mdf.l"))
            C["l_bytes"] = {"ok": d == -1, "first_diff": d, "bytes": os.path.getsize(p("cyc.l"))}
            C["l_pages"] = compare_dumps(p("cyc.l"), p("mdf.l"), agree)
            if agree:
                C["l_bytes"]["ok"] = True
                C["l_bytes"]["note"] = "not expected: makedumpfile 1.7.2 classifies 6.12 pages wrongly"
        if exit0("mdf-F") and exit0("cyc-F"):
            rc1, rc2 = rebuild(p("cyc.flat"), p("cyc.F.dump")), rebuild(p("mdf.flat"), p("mdf.F.dump"))
            C["F_rebuild"] = {"ok": rc1 == 0 and rc2 == 0, "exit": [rc1, rc2]}
            if rc1 == 0 and rc2 == 0:
                C["F_pages"] = compare_dumps(p("cyc.F.dump"), p("mdf.F.dump"), agree)
                C["libkdumpfile_F"] = libkdumpfile_reads(p("cyc.F.dump"), p("mdf.F.dump"))
        if exit0("mdf-dmesg") and exit0("cyc-dmesg"):
            # against makedumpfile 1.7.2's log when the reference is newer (see capture.sh)
            ref = "m172.dmesg" if os.path.exists(p("m172.dmesg")) else "mdf.dmesg"
            C["dmesg"] = {"ok": same_file(p("cyc.dmesg"), p(ref)) == -1, "against": ref, "bytes": os.path.getsize(p(ref))}
        if exit0("mdf-l") and exit0("cyc-l"):
            C["libkdumpfile_l"] = libkdumpfile_reads(p("cyc.l"), p("mdf.l"))
        wanted = ["exit_status", "l_bytes", "l_pages", "F_rebuild", "F_pages", "dmesg", "libkdumpfile_l", "libkdumpfile_F"]
        if "debian" in info:
            C["kdump_tools"] = kdump_tools_check(kdump_tools, p, agree)
            wanted.append("kdump_tools")
    else:
        t = res["tools"].get("cyc-l", {})
        C["cyc_l_incomplete"] = {"ok": fault == "kill" or t.get("exit", 0) != 0, "exit": t.get("exit")}
        C["incomplete_reads"] = incomplete_reads(p("cyc.l"), p("mdf.l")) if os.path.exists(p("cyc.l")) else {"ok": False, "error": "no cyc.l"}
        wanted = ["cyc_l_incomplete", "incomplete_reads"]
    for w in wanted:
        C.setdefault(w, {"ok": False, "error": "not run"})
    res["ok"] = all(C[w]["ok"] for w in wanted)
    json.dump(res, open(os.path.join(run, "result.json"), "w"), indent=1)
    T = res["tools"]

    def fig(n):
        t = T.get(n, {})
        if "wall_s" not in t:
            return "%s -" % n
        return "%s %.1fs %.1fMiB" % (n, t["wall_s"], t.get("max_rss_kb", 0) / 1024)
    failed = [w for w in wanted if not C[w]["ok"]]
    print("e2e %s %s: %s%s; %s" % ("PASS" if res["ok"] else "FAIL", " ".join(info[:6]),
          "all checks hold" if not failed else "failed: " + ", ".join(failed),
          " (agreement only)" if agree else "",
          ", ".join(fig(n) for n in ("mdf-F", "cyc-F", "mdf-l", "cyc-l"))))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
