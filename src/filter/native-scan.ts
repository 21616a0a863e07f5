// The struct-page decision table of page-rules.ts, in C (native/pagescan.c), when the addon
// is built. page-rules.ts keeps the JavaScript table as the reference and the fallback.
import { nativeAddon } from '../util/native-addon';
import { scanDeclarations } from './page-rules';

export interface NativeScan {
  /**
   * classifyChunk of page-scan.ts over `n` struct pages in `structPages`, with the rules
   * packed by page-rules.ts's rulesArray; throws when the rules would read outside a struct page.
   */
  classifyChunk(rules: Int32Array, structPages: Uint8Array, valid: Uint8Array, n: number, firstPfn: number,
    codes: Uint8Array, orders: Uint8Array): number;
  /**
   * The scan loop over chunk indices [from, to) where only the verdicts decide: kept pfns
   * are stepped over, single excluded pfns counted in `counts` and cleared in `bitmap2`
   * (bit bitBase + index, when below sliceBits). Returns the index of the first excluded
   * block (order > 0), or `to`.
   */
  applyChunk(codes: Uint8Array, orders: Uint8Array, from: number, to: number, bitmap2: Uint8Array, bitBase: number,
    sliceBits: number, counts: Float64Array): number;
}

let matches: boolean | undefined;

/** The addon's scan, or undefined when it is not built (or was built from other declarations than page-rules.ts's). */
export function nativeScan(): NativeScan | undefined {
  const addon = nativeAddon() as (Partial<NativeScan> & { scanDeclarations?: string }) | undefined;
  if (!addon?.classifyChunk || !addon.applyChunk) return undefined;
  matches ??= addon.scanDeclarations === scanDeclarations();
  return matches ? (addon as NativeScan) : undefined;
}
