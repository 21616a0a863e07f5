// On-disk structs are declared once (src/format/struct.ts) and both read and written from
// that declaration: every field type comes back as written, fields left out keep their
// bytes, values that do not fit a JavaScript number are refused on reading, and a
// declaration whose field lies outside its struct is refused when it is made.
import { expect } from 'chai';
import { Struct, StructFormatError } from '../../src/format/struct';
import { PageDesc } from '../../src/format/diskdump';

const Sample = new Struct('sample', 48, [
  { name: 'a', type: 'u8', offset: 0 },
  { name: 'b', type: 'u16', offset: 2 },
  { name: 'c', type: 'u32', offset: 4 },
  { name: 'd', type: 'i32', offset: 8 },
  { name: 'e', type: 'u64n', offset: 16 },
  { name: 'f', type: 'i64', offset: 24 },
  { name: 'g', type: 'cstring', offset: 32, size: 8 },
  { name: 'h', type: 'bytes', offset: 40, size: 4 },
] as const);

describe('struct declarations', function () {
  it('every field type round-trips, little-endian at its declared offset', function () {
    const v = { a: 0xfe, b: 0xbeef, c: 0xdeadbeef, d: -5, e: 2 ** 52 + 3, f: -(2n ** 62n), g: 'vmcore', h: Buffer.from([1, 2, 3, 4]) };
    const buf = Sample.encode(v);
    expect(buf.length).to.equal(48);
    expect(Sample.decode(buf)).to.deep.equal(v);
    expect(buf.readUInt16LE(2)).to.equal(0xbeef);
    expect(buf.readInt32LE(8)).to.equal(-5);
    expect(buf.subarray(32, 40).toString('latin1')).to.equal('vmcore\0\0');
  });

  it('fields left out keep the bytes already there; the struct is written at `at`', function () {
    const buf = Buffer.alloc(64).fill(0xaa, 16, 20);
    Sample.encode({ c: 1 }, buf, 16);
    expect(buf.readUInt32LE(20)).to.equal(1);
    expect(buf.readUInt32LE(16)).to.equal(0xaaaaaaaa);
    const back = Sample.decode(buf, 16);
    expect([back.a, back.b, back.c]).to.deep.equal([0xaa, 0xaaaa, 1]);
  });

  it('refuses what it cannot represent or hold', function () {
    const buf = Buffer.alloc(48);
    buf.writeBigUInt64LE(2n ** 60n, 16);
    expect(() => Sample.decode(buf)).to.throw(StructFormatError, /out of range/);
    expect(() => Sample.decode(Buffer.alloc(47))).to.throw(StructFormatError, /need 48 bytes/);
    expect(() => new Struct('bad', 8, [{ name: 'x', type: 'u64', offset: 4 }] as const)).to.throw(/outside struct/);
  });

  it('page_desc as the kdump format has it: 24 bytes, offset, size, flags, page_flags', function () {
    expect([PageDesc.size, PageDesc.offsets.offset, PageDesc.offsets.size, PageDesc.offsets.flags, PageDesc.offsets.page_flags])
      .to.deep.equal([24, 0, 8, 12, 16]);
  });
});
