// Checks on kdump-compressed files: same bitmaps as a reference dump, and every stored
// page equal to the vmcore's bytes at its address.
import { expect } from 'chai';
import { loadsOf, sameFile } from './files';
import { RunResult, parseReport } from './tools';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';

export interface DumpShape {
  maxMapnr: number;
  dumpable: number;
  status: number;
  dumpLevel: number;
}

export function shapeOf(path: string): DumpShape {
  const d = KdumpVmcore.open(path);
  try {
    let n = 0;
    for (const _ of d.records()) n++;
    return { maxMapnr: d.maxMapnr, dumpable: n, status: d.header.status, dumpLevel: d.sub.dump_level };
  } finally {
    d.close();
  }
}

/** Both bitmaps byte-identical, same geometry. */
export function expectSameBitmaps(ours: string, theirs: string): void {
  const a = KdumpVmcore.open(ours);
  const b = KdumpVmcore.open(theirs);
  try {
    expect(a.maxMapnr, 'max_mapnr').to.equal(b.maxMapnr);
    expect(a.header.bitmap_blocks, 'bitmap_blocks').to.equal(b.header.bitmap_blocks);
    expect(a.header.sub_hdr_size, 'sub_hdr_size').to.equal(b.header.sub_hdr_size);
    expect(a.offsetDesc, 'descriptor table offset').to.equal(b.offsetDesc);
    const d1 = firstDiff(a.bitmap1, b.bitmap1);
    expect(d1, `1st bitmap differs at byte ${d1}`).to.equal(-1);
    const d2 = firstDiff(a.bitmap2, b.bitmap2);
    expect(d2, `2nd bitmap differs at byte ${d2}`).to.equal(-1);
  } finally {
    a.close();
    b.close();
  }
}

/** -E: our ELF dump has the reference's PT_LOADs and bytes, and its run the same report. */
export function expectSameElfDump(ours: string, theirs: string, ourRun: RunResult, theirRun: RunResult): void {
  expect(ourRun.code, ourRun.stderr).to.equal(0);
  expect(theirRun.code).to.equal(0);
  expect(loadsOf(ours)).to.deep.equal(loadsOf(theirs));
  expect(sameFile(ours, theirs)).to.equal(true);
  expect(parseReport(ourRun.stdout)).to.deep.equal(parseReport(theirRun.stdout));
}

function firstDiff(x: Buffer, y: Buffer): number {
  if (x.equals(y)) return -1;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return n;
}

export interface PageCheck {
  pages: number;
  zeroDescs: number;
  compressed: number;
  lost: number;
}

/** Every descriptor's page decompresses to the vmcore's bytes at that pfn. */
export function verifyPagesAgainstVmcore(dumpPath: string, vmcorePath: string): PageCheck {
  const d = KdumpVmcore.open(dumpPath);
  const vm = ElfVmcore.open(vmcorePath);
  const page = Buffer.alloc(d.pageSize);
  const ref = Buffer.alloc(d.pageSize);
  const res: PageCheck = { pages: 0, zeroDescs: 0, compressed: 0, lost: 0 };
  // the shared zero page is the first object of the data area
  let global = 0;
  for (const byte of d.bitmap2) global += POP[byte];
  const zeroOffset = (d.sub.dump_level & 1) !== 0 ? d.offsetDesc + 24 * global : -1;
  try {
    for (const r of d.records()) {
      if (r.offset === 0) { res.lost++; continue; }
      const st = d.loadRecord(r, page);
      if (st !== 'ok') { res.lost++; continue; }
      vm.read(r.pfn * d.pageSize, ref, 0, d.pageSize);
      if (!page.equals(ref)) throw new Error(`${dumpPath}: page of pfn 0x${r.pfn.toString(16)} differs from the vmcore`);
      if (r.flags !== 0) res.compressed++;
      if (r.offset === zeroOffset) res.zeroDescs++;
      res.pages++;
    }
  } finally {
    d.close();
    vm.close();
  }
  return res;
}

const POP = new Uint8Array(256);
for (let i = 0; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1];
