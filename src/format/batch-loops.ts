// Two loops of pass 2 that also exist in C (native/pagecodec.c): cutting a cycle's bitmap
// into batches, and encoding a batch's page_desc records. Where the addon is built the C
// ones run (on a run pinned to one CPU, V8 spent most of pass 2's time optimizing such
// loops: perf/RESULTS.md); these are the same loops for when it is not, with the same
// arguments. test/format/batch-loops.test.ts runs both over the same input.
import { nativePages } from '../codec/native-pages';
import { PAGE_MARK } from '../codec/native-pages';
import { POP8 } from '../filter/bitmap';
import { PageDesc } from './diskdump';

/** page_desc's size and field offsets (offset, size, flags, page_flags), as both encoders take them */
export const DESC_LAYOUT = Int32Array.of(PageDesc.size, PageDesc.offsets.offset, PageDesc.offsets.size, PageDesc.offsets.flags,
  PageDesc.offsets.page_flags);

export interface BatchLoops {
  /**
   * The next batch of bm's bytes from `byte` on: 1 with out = [first byte, byte after the
   * last, set bits], 0 when no set bit is left. Whole bytes are taken while the batch holds
   * at most maxPages set bits (its first byte always); bytes firstByte and nbytes - 1 count
   * through headMask and tailMask.
   */
  cutBatch(bm: Uint8Array, byte: number, nbytes: number, maxPages: number, firstByte: number, headMask: number, tailMask: number,
    out: Int32Array): number;
  /**
   * A batch's page_desc records into out, laid out as `layout` says (DESC_LAYOUT): stored
   * pages at the next data positions from dataPos on, all-zero pages at zeroOffset,
   * unreadable pages all zero ("data lost"). Returns the data position after the batch.
   */
  encodeDescriptors(sizes: Int32Array, flags: Uint8Array, count: number, dataPos: number, zeroOffset: number,
    pageSize: number, layout: Int32Array, out: Uint8Array): number;
}

export const javascriptLoops: BatchLoops = {
  cutBatch(bm, byte, nbytes, maxPages, firstByte, headMask, tailMask, out) {
    const byteAt = (i: number): number => {
      let b = bm[i];
      if (i === firstByte) b &= headMask;
      if (i === nbytes - 1) b &= tailMask;
      return b;
    };
    while (byte < nbytes && byteAt(byte) === 0) byte++;
    if (byte >= nbytes) return 0;
    const first = byte;
    let count = 0;
    while (byte < nbytes) {
      const n = POP8[byteAt(byte)];
      if (count + n > maxPages && count > 0) break;
      count += n;
      byte++;
    }
    out[0] = first;
    out[1] = byte;
    out[2] = count;
    return 1;
  },

  encodeDescriptors(sizes, flags, count, dataPos, zeroOffset, pageSize, layout, out) {
    // every field is 4-byte aligned: u32 words, little-endian as the host (x86_64)
    const w = new Uint32Array(out.buffer, out.byteOffset, (count * layout[0]) >> 2);
    w.fill(0);
    const rec = layout[0] >> 2;
    const wOffset = layout[1] >> 2;
    const wSize = layout[2] >> 2;
    const wFlags = layout[3] >> 2;
    let pos = dataPos;
    for (let k = 0, i = 0; k < count; k++, i += rec) {
      const size = sizes[k];
      if (size === PAGE_MARK.zero) {
        w[i + wOffset] = zeroOffset % 0x100000000;
        w[i + wOffset + 1] = Math.floor(zeroOffset / 0x100000000);
        w[i + wSize] = pageSize;
      } else if (size > 0) {
        w[i + wOffset] = pos % 0x100000000;
        w[i + wOffset + 1] = Math.floor(pos / 0x100000000);
        w[i + wSize] = size;
        w[i + wFlags] = flags[k];
        pos += size;
      }
    }
    return pos;
  },
};

/** The C loops where the addon is built, else the JavaScript ones. */
export function batchLoops(): BatchLoops {
  return nativePages() ?? javascriptLoops;
}
