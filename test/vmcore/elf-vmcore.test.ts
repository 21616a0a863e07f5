// The ELF vmcore input (src/vmcore): recognised by its header, PT_LOADs as physical
// memory ranges, the first load winning where two overlap (makedumpfile's
// paddr_to_offset), memsz beyond filesz and addresses in no load reading as zero.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { openInput, sniffInput } from '../../src/vmcore/open';
import { encodeNotes, writeElfVmcore } from '../helpers/elf-builder';
import { scratchDir } from '../helpers/fixtures';

describe('ELF vmcore input', function () {
  let dir: string;
  let file: string;
  before(function () {
    dir = scratchDir('elf-vmcore');
    file = path.join(dir, 'two-loads.vmcore');
    const a = Buffer.alloc(4 * 4096, 0x11);
    const b = Buffer.alloc(2 * 4096, 0x22);
    writeElfVmcore(file, {
      notes: encodeNotes([{ name: 'CORE', type: 1, desc: Buffer.alloc(336) }]),
      // b overlaps a's last two pages and comes second: a wins there
      loads: [{ paddr: 0x10000, data: a }, { paddr: 0x12000, data: b }, { paddr: 0x40000, data: Buffer.alloc(4096, 0x33), memsz: 3 * 4096 }],
    });
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is told from kdump files and from what is neither', function () {
    expect(sniffInput(file)).to.equal('elf');
    const junk = path.join(dir, 'junk');
    fs.writeFileSync(junk, 'not a vmcore at all, just text');
    expect(() => sniffInput(junk)).to.throw();
  });

  it('reads its loads as physical memory: first load wins, holes and memsz past filesz read as zero', function () {
    const input = openInput(file);
    try {
      expect(input.loads.map((l) => [l.paddr, l.memsz, l.filesz])).to.deep.equal([
        [0x10000, 4 * 4096, 4 * 4096], [0x12000, 2 * 4096, 2 * 4096], [0x40000, 3 * 4096, 4096],
      ]);
      const buf = Buffer.alloc(4096);
      expect(input.read(0x13000, buf, 0, 4096)).to.equal(true);
      expect(buf.every((x) => x === 0x11)).to.equal(true);
      expect(input.fileOffset(0x13000)).to.equal(input.fileOffset(0x10000) + 0x3000);
      expect(input.read(0x41000, buf, 0, 4096)).to.equal(true);
      expect(buf.every((x) => x === 0)).to.equal(true);
      expect(input.read(0x20000, buf, 0, 4096)).to.equal(false);
      expect(input.fileOffset(0x20000)).to.equal(-1);
      // a read that runs from a load into a hole: the hole's part is zero
      const two = Buffer.alloc(8192, 0xff);
      expect(input.read(0x13000, two, 0, 8192)).to.equal(true);
      expect(two.subarray(0, 4096).every((x) => x === 0x11)).to.equal(true);
      expect(two.subarray(4096).every((x) => x === 0)).to.equal(true);
    } finally {
      input.close();
    }
  });
});
