// One declaration per on-disk struct: each field's name, offset, size and type.
// Both the reader (decode) and the writer (encode) work from the same table, so
// an offset can never disagree between the two directions.

interface TypeMap {
  u8: number;
  u16: number;
  u32: number;
  i32: number;
  /** unsigned 64-bit value that must fit a JS number (file offsets, pfn counts) */
  u64n: number;
  /** signed 64-bit value that must fit a JS number */
  i64n: number;
  /** full-range 64-bit values (addresses) */
  u64: bigint;
  i64: bigint;
  /** raw bytes, copied out */
  bytes: Buffer;
  /** NUL-padded text field */
  cstring: string;
}
export type FieldType = keyof TypeMap;

const FIXED_SIZE: Record<FieldType, number> = {
  u8: 1, u16: 2, u32: 4, i32: 4, u64n: 8, i64n: 8, u64: 8, i64: 8, bytes: -1, cstring: -1,
};

export interface FieldDecl {
  readonly name: string;
  readonly type: FieldType;
  readonly offset: number;
  /** only for bytes/cstring */
  readonly size?: number;
}

export type Decoded<D extends readonly FieldDecl[]> = {
  [F in D[number] as F['name']]: TypeMap[F['type']];
};

export class StructFormatError extends Error {}

export class Struct<D extends readonly FieldDecl[]> {
  readonly offsets: { readonly [K in D[number]['name']]: number };

  constructor(
    readonly name: string,
    readonly size: number,
    readonly fields: D,
    readonly littleEndian = true,
  ) {
    const offsets: Record<string, number> = {};
    for (const f of fields) {
      const len = fieldSize(f);
      if (f.offset < 0 || f.offset + len > size) {
        throw new Error(`${name}.${f.name}: field [${f.offset}, ${f.offset + len}) outside struct of ${size} bytes`);
      }
      offsets[f.name] = f.offset;
    }
    this.offsets = offsets as Struct<D>['offsets'];
  }

  decode(buf: Uint8Array, at = 0): Decoded<D> {
    if (at + this.size > buf.length) {
      throw new StructFormatError(`${this.name}: need ${this.size} bytes at ${at}, have ${buf.length - at}`);
    }
    const dv = new DataView(buf.buffer, buf.byteOffset + at, this.size);
    const le = this.littleEndian;
    const out: Record<string, unknown> = {};
    for (const f of this.fields) {
      const o = f.offset;
      switch (f.type) {
        case 'u8': out[f.name] = dv.getUint8(o); break;
        case 'u16': out[f.name] = dv.getUint16(o, le); break;
        case 'u32': out[f.name] = dv.getUint32(o, le); break;
        case 'i32': out[f.name] = dv.getInt32(o, le); break;
        case 'u64': out[f.name] = dv.getBigUint64(o, le); break;
        case 'i64': out[f.name] = dv.getBigInt64(o, le); break;
        case 'u64n': {
          const v = dv.getBigUint64(o, le);
          if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
            throw new StructFormatError(`${this.name}.${f.name}: value 0x${v.toString(16)} is out of range`);
          }
          out[f.name] = Number(v);
          break;
        }
        case 'i64n': {
          const v = dv.getBigInt64(o, le);
          if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
            throw new StructFormatError(`${this.name}.${f.name}: value ${v} is out of range`);
          }
          out[f.name] = Number(v);
          break;
        }
        case 'bytes':
          out[f.name] = Buffer.from(buf.subarray(at + o, at + o + (f.size ?? 0)));
          break;
        case 'cstring': {
          const raw = buf.subarray(at + o, at + o + (f.size ?? 0));
          const nul = raw.indexOf(0);
          out[f.name] = Buffer.from(nul < 0 ? raw : raw.subarray(0, nul)).toString('latin1');
          break;
        }
      }
    }
    return out as Decoded<D>;
  }

  /** Encodes the given fields into `into` at `at`; fields left out keep the bytes already there. */
  encode(value: Partial<Decoded<D>>, into: Buffer = Buffer.alloc(this.size), at = 0): Buffer {
    if (at + this.size > into.length) {
      throw new StructFormatError(`${this.name}: no room for ${this.size} bytes at ${at}`);
    }
    const dv = new DataView(into.buffer, into.byteOffset + at, this.size);
    const le = this.littleEndian;
    const rec = value as Record<string, unknown>;
    for (const f of this.fields) {
      const v = rec[f.name];
      if (v === undefined) continue;
      const o = f.offset;
      switch (f.type) {
        case 'u8': dv.setUint8(o, v as number); break;
        case 'u16': dv.setUint16(o, v as number, le); break;
        case 'u32': dv.setUint32(o, v as number, le); break;
        case 'i32': dv.setInt32(o, v as number, le); break;
        case 'u64': dv.setBigUint64(o, BigInt.asUintN(64, v as bigint), le); break;
        case 'i64': dv.setBigInt64(o, BigInt.asIntN(64, v as bigint), le); break;
        case 'u64n': dv.setBigUint64(o, BigInt(v as number), le); break;
        case 'i64n': dv.setBigInt64(o, BigInt(v as number), le); break;
        case 'bytes': {
          const b = v as Uint8Array;
          const n = f.size ?? 0;
          into.fill(0, at + o, at + o + n);
          into.set(b.subarray(0, n), at + o);
          break;
        }
        case 'cstring': {
          const n = f.size ?? 0;
          into.fill(0, at + o, at + o + n);
          into.write(v as string, at + o, n, 'latin1');
          break;
        }
      }
    }
    return into;
  }
}

function fieldSize(f: FieldDecl): number {
  const fixed = FIXED_SIZE[f.type];
  if (fixed > 0) return fixed;
  if (f.size === undefined) throw new Error(`field ${f.name}: ${f.type} needs a size`);
  return f.size;
}
