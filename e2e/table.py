#!/usr/bin/python3
"""e2e/table.py MATRIX.jsonl: the "kdump end to end" table (markdown) from e2e/matrix.sh's
records, one row per kernel x environment x guest RAM x nr_cpus:
smallest crashkernel at which each tool completed (all three of its runs exit 0), and at
the size where both completed: each tool's peak RSS (VmHWM, GNU time) and wall time for
Debian's -F -c -d 31 and RHEL's -l --message-level 7 -d 31, the ratio cyclodump /
makedumpfile, MemAvailable before cyclodump's -l run, the peaks of its anonymous and
file-backed resident memory and of its threads, and the checks' verdict. A row where no
size let both complete shows the peaks of cyclodump's last run at the largest size tried."""
import json, sys


def key(r):
    i = r["info"]
    get = lambda p: next((w.split("=", 1)[1] for w in i if w.startswith(p + "=")), "?")  # noqa: E731
    return (i[0], i[2], get("ram"), get("nr_cpus"))


def done(r, p):
    t = r.get("tools", {})
    return all(t.get(p + s, {}).get("exit") == 0 for s in ("-F", "-dmesg", "-l"))


def peaks(t):
    """peak anonymous / file-backed resident memory of one run, and its threads where recorded"""
    s = "%.1f / %.1f MiB" % (t.get("rss_anon_kb", 0) / 1024, t.get("rss_file_kb", 0) / 1024)
    return s + (", %d threads" % t["threads"] if "threads" in t else "")


def main():
    rows = {}
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if r.get("fault", "none") != "none":
            continue
        rows.setdefault(key(r), []).append(r)
    print("| kernel | env | RAM MiB | nr_cpus | sizes tried (MiB) | smallest crashkernel mdf / cyc (MiB) | -F -c: mdf wall, RSS | cyc wall, RSS | wall ratio | -l: mdf wall, RSS | cyc wall, RSS | wall ratio | MemAvailable before cyc -l | cyc -l peak anon / file | checks |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k in sorted(rows):
        rs = sorted(rows[k], key=lambda r: r.get("ck_mib", 0))
        tried = [r.get("ck_mib") for r in rs]
        sm = lambda p: next((str(r["ck_mib"]) for r in rs if done(r, p)), ">%s" % max(tried))  # noqa: E731
        both = [r for r in rs if done(r, "mdf") and done(r, "cyc")]
        cells = [k[0], k[1], k[2], k[3], ", ".join(str(x) for x in tried), "%s / %s" % (sm("mdf"), sm("cyc"))]
        if both:
            b = both[0]
            t = b["tools"]

            def f(n):
                return "%.1f s, %.1f MiB" % (t[n]["wall_s"], t[n]["max_rss_kb"] / 1024)

            def ratio(a, c):
                return "%.2f" % (t[c]["wall_s"] / t[a]["wall_s"]) if t[a]["wall_s"] else "-"
            cells += [f("mdf-F"), f("cyc-F"), ratio("mdf-F", "cyc-F"), f("mdf-l"), f("cyc-l"), ratio("mdf-l", "cyc-l"),
                      "%.1f MiB" % (t["cyc-l"].get("mem_available_kb", 0) / 1024),
                      peaks(t["cyc-l"]),
                      ("pass" if b["ok"] else "FAIL") + (" (agreement only)" if b.get("agree_only") else "") + " at %d" % b["ck_mib"]]
        else:
            last = rs[-1].get("tools", {})
            run = next((n for n in ("cyc-l", "cyc-dmesg", "cyc-F") if n in last), None)
            cells += ["-"] * 7 + ["%s at %s: %s%s" % (run, max(tried), peaks(last[run]), ", not completed" if last[run].get("exit") != 0 else "")
                                  if run else "-",
                                  "no size up to %s MiB where both completed" % max(tried)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
