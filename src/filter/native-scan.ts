// The struct-page decision table of page-scan.ts, in C (native/pagescan.c), when the addon
// is built. page-scan.ts keeps the JavaScript table as the reference and the fallback.
import { nativeAddon } from '../util/native-addon';

export interface NativeScan {
  /**
   * classifyChunk of page-scan.ts over `n` struct pages in `structPages`, with the rules
   * packed by rulesArray; throws when the rules would read outside a struct page.
   */
  classifyChunk(rules: Int32Array, structPages: Uint8Array, valid: Uint8Array, n: number, firstPfn: number,
    codes: Uint8Array, orders: Uint8Array): number;
}

export function nativeScan(): NativeScan | undefined {
  const addon = nativeAddon() as Partial<NativeScan> | undefined;
  return addon?.classifyChunk ? (addon as NativeScan) : undefined;
}
