// Damage that does not stop a dump: what cannot be classified is kept, and a warning says
// so (makedumpfile's rule for a bad buddy order, applied to every such case). Each case
// damages one thing of the 256 MiB synthetic vmcore and runs the command on it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { buildKernelModel } from '../../src/kernel/kernel-model';
import type { X86_64Desc } from '../../src/translate/x86_64';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { errorLines, sparseCopy, synthVmcore } from '../helpers/faults';
import { scratchDir } from '../helpers/fixtures';
import { cyclodump } from '../helpers/tools';

interface Where {
  /** file offset of section `nr`'s section_mem_map word */
  sectionMemMap: (nr: number) => number;
  /** file offset of the struct page of pfn */
  structPage: (pfn: number) => number;
  sections: number;
  /** file offset of the PMD entry that maps section 0's struct pages, and the PGD's physical address */
  pmdEntry: number;
  pgdPa: number;
}

function locate(file: string): Where {
  const vm = ElfVmcore.open(file);
  try {
    const km = buildKernelModel(vm, vm.vmcoreinfo!.text, { warn: () => undefined, needPageLayout: true, arch: vm.arch });
    const tr = km.translator!;
    const ms = km.vmcoreinfo!.symbol('mem_section')!;
    const root = tr.readU64(ms)!;
    const ranges = km.memmap!.ranges;
    const steps = tr.walk(ranges[0].memMap).steps;
    const pmd = steps.find(([name]) => name === 'PMD')!;
    return {
      sectionMemMap: (nr) => vm.fileOffset(tr.vtop(root + BigInt(nr * 32))),
      structPage: (pfn) => {
        const r = ranges.find((x) => pfn >= x.pfnStart && pfn < x.pfnEnd)!;
        return vm.fileOffset(tr.vtop(r.memMap + BigInt((pfn - r.pfnStart) * 64)));
      },
      sections: ranges.length,
      pmdEntry: vm.fileOffset(pmd[1]),
      pgdPa: (tr.desc as X86_64Desc).rootPa,
    };
  } finally {
    vm.close();
  }
}

function pokeU64(file: string, at: number, v: bigint): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  fs.writeSync(fd, b, 0, 8, at);
  fs.closeSync(fd);
}

function dumpedPages(file: string): number {
  const d = KdumpVmcore.open(file);
  try {
    let n = 0;
    for (const _ of d.records()) n++;
    return n;
  } finally {
    d.close();
  }
}

describe('conservative fallbacks: damaged kernel data keeps pages, with a warning', function () {
  let dir: string;
  let clean: string;
  let where: Where;
  let cleanPages: number;

  before(async function () {
    dir = scratchDir('fallbacks');
    clean = await synthVmcore();
    where = locate(clean);
    const out = path.join(dir, 'clean.kdump');
    const r = cyclodump(['-l', '-d', '31', clean, out]);
    expect(r.code, r.stderr).to.equal(0);
    cleanPages = dumpedPages(out);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function damaged(name: string, damage: (file: string) => void): { input: string; out: string } {
    const input = path.join(dir, `${name}.vmcore`);
    sparseCopy(clean, input);
    damage(input);
    return { input, out: path.join(dir, `${name}.kdump`) };
  }

  it('a section whose mem_map points outside memory: its pages are kept, one warning, exit 0', function () {
    const { input, out } = damaged('memmap-outside', (f) => pokeU64(f, where.sectionMemMap(1), 0xffffd4ffffe00000n | 1n));
    const r = cyclodump(['-l', '-d', '31', input, out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(errorLines(r.stderr)).to.deep.equal(['warning: struct pages of 32768 pfns could not be read; those pages were kept']);
    const c = verifyPagesAgainstVmcore(out, input);
    expect(c.lost).to.equal(0);
    expect(c.pages, 'more pages kept than from the intact vmcore').to.be.greaterThan(cleanPages);
  });

  it('a free page with a buddy order out of range: the page is kept, the pfn named, exit 0', function () {
    // a free page head: page_type PAGE_BUDDY_MAPCOUNT_VALUE (-129) at OFFSET(page._mapcount)
    const fd = fs.openSync(clean, 'r');
    const sp = Buffer.alloc(64);
    let pfn = 4096;
    for (; pfn < 65536; pfn++) {
      fs.readSync(fd, sp, 0, 64, where.structPage(pfn));
      if (sp.readInt32LE(48) === -129 && sp.readBigUInt64LE(40) > 0n) break;
    }
    fs.closeSync(fd);
    expect(pfn).to.be.below(65536);
    const { input, out } = damaged('bad-order', (f) => pokeU64(f, where.structPage(pfn) + 40, 99n));
    const r = cyclodump(['-l', '-d', '31', input, out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(errorLines(r.stderr)).to.deep.equal([`warning: invalid free page order at pfn 0x${pfn.toString(16)}; the page is kept`]);
    const c = verifyPagesAgainstVmcore(out, input);
    expect(c.lost).to.equal(0);
    expect(c.pages).to.be.greaterThan(cleanPages);
  });

  it('page tables that loop (a PMD entry back to the PGD): the run ends in bounded time, with a dump or one line', function () {
    const { input, out } = damaged('pt-loop', (f) => pokeU64(f, where.pmdEntry, BigInt(where.pgdPa) | 0x63n));
    const r = cyclodump(['-l', '-d', '31', input, out]);
    expect(r.wallMs).to.be.below(60_000);
    expect(r.stderr).to.not.match(/\n\s+at /);
    if (r.code === 0) {
      expect(verifyPagesAgainstVmcore(out, input).lost).to.equal(0);
    } else {
      expect(r.code).to.equal(1);
      expect(errorLines(r.stderr)).to.have.length(1);
      expect(fs.existsSync(out)).to.equal(false);
    }
  });
});
