// Shared pieces of the fault tests (test/faults/): a small synthetic vmcore made once, a
// small tmpfs that really fills up, and the checks every incomplete dump must pass.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { generateVmcore } from '../../perf/synth/generate';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';
import { verifyPagesAgainstVmcore, PageCheck } from './compare';
import { CACHE } from './paths';
import { libkdumpfileCheck } from './tools';

/**
 * A synthetic Linux 6.1 vmcore (perf/synth, seed 7, 4 MiB of page data), 256 MiB of RAM by
 * default: real page tables, mem_section and struct pages, 43 MB on disk at 256 MiB. Made
 * once into the cache.
 */
export async function synthVmcore(ramMiB = 256): Promise<string> {
  const out = path.join(CACHE, 'synth', `faults-${ramMiB}m-s7.vmcore`);
  const stamp = `${out}.ok`;
  if (fs.existsSync(stamp) && fs.existsSync(out)) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await generateVmcore({ ramBytes: ramMiB * 2 ** 20, out: tmp, seed: 7, dataBytes: 4 << 20, writeExpected: false });
  fs.renameSync(tmp, out);
  fs.writeFileSync(stamp, 'generated');
  return out;
}

/** A private copy of a (sparse) file, cheap on disk. */
export function sparseCopy(from: string, to: string): void {
  const r = spawnSync('cp', ['--sparse=always', '-f', from, to]);
  if (r.status !== 0) throw new Error(`cp ${from} ${to}: ${r.stderr}`);
  fs.chmodSync(to, 0o644);
}

/** A tmpfs whose size can be changed between runs (tests run as root in CI). */
export class SmallDisk {
  private constructor(readonly dir: string) {}

  static mount(dir: string): SmallDisk | undefined {
    fs.mkdirSync(dir, { recursive: true });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', dir]);
    return r.status === 0 ? new SmallDisk(dir) : undefined;
  }

  /** Empties the disk and gives it room for `bytes` (rounded up to pages). */
  resize(bytes: number): void {
    for (const f of fs.readdirSync(this.dir)) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
    const size = Math.max(4096, Math.ceil(bytes / 4096) * 4096);
    const r = spawnSync('mount', ['-o', `remount,size=${size}`, this.dir]);
    if (r.status !== 0) throw new Error(`remount ${this.dir} size=${size}: ${r.stderr}`);
  }

  unmount(): void {
    spawnSync('umount', [this.dir]);
  }
}

/** Runs the libkdumpfile checker on a sample of pfns; no page it reads may differ. */
export function libkdumpfileSample(dump: string, vmcore: string, sample = 1500, seed = 1): { compared: number; errors: number; nodata: number } {
  const r = libkdumpfileCheck([dump, vmcore, '--sample', String(sample), '--seed', String(seed)]);
  expect(r.code, `libkdumpfile could not open ${dump}: ${r.stderr}`).to.equal(0);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { compared: number; mismatches: number; errors: number; nodata: number };
  expect(res.mismatches, `${dump}: pages read by libkdumpfile differ from the vmcore`).to.equal(0);
  return res;
}

export interface IncompleteCheck extends PageCheck {
  libkdumpfile: { compared: number; errors: number; nodata: number };
}

/**
 * A kdump-compressed dump that could not be finished: flagged incomplete in its header,
 * readable by our reader and libkdumpfile, every page it holds equal to the vmcore's.
 */
export function expectIncompleteKdump(dump: string, vmcore: string): IncompleteCheck {
  const d = KdumpVmcore.open(dump);
  try {
    expect(d.incomplete, `${dump}: header status 0x${d.header.status.toString(16)} lacks the incomplete flag 0x08`).to.equal(true);
  } finally {
    d.close();
  }
  const pages = verifyPagesAgainstVmcore(dump, vmcore);
  const lk = libkdumpfileSample(dump, vmcore);
  return { ...pages, libkdumpfile: lk };
}

/**
 * An ELF dump that could not be finished: e_flags bit 0 set, and every byte its PT_LOADs
 * hold equal to the vmcore's at the same physical address. Returns the pages compared.
 */
export function expectIncompleteElf(dump: string, vmcore: string): number {
  const out = ElfVmcore.open(dump);
  const src = ElfVmcore.open(vmcore);
  try {
    expect(out.info.eFlags & 1, `${dump}: e_flags bit 0 (incomplete) not set`).to.equal(1);
    const a = Buffer.alloc(4096);
    const b = Buffer.alloc(4096);
    let pages = 0;
    for (const l of out.loads) {
      for (let off = 0; off < l.filesz; off += 4096) {
        const n = Math.min(4096, l.filesz - off);
        fs.readSync(out.fd, a, 0, n, l.fileOffset + off);
        src.read(l.paddr + off, b, 0, n);
        if (!a.subarray(0, n).equals(b.subarray(0, n))) {
          throw new Error(`${dump}: PT_LOAD data at physical 0x${(l.paddr + off).toString(16)} differs from the vmcore`);
        }
        pages++;
      }
    }
    return pages;
  } finally {
    out.close();
    src.close();
  }
}

/** stderr lines that are not progress */
export function errorLines(stderr: string): string[] {
  return stderr.split(/[\n\r]/).filter((l) => l.trim() && !/^Dumping:|^\s*Copying/.test(l));
}
