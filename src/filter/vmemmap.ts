// -e: the struct pages describing excluded memory are not needed to analyse a dump. Find
// runs of whole 64-pfn words that are present but excluded, and the physical pages holding
// their struct pages (vmemmap), rounded inward to whole pages.
//
// makedumpfile 1.7.2 means to do this (find_unused_vmemmap_pages), but its
// find_vmemmap_pages never fills in the range it found, so what it clears is undefined;
// here the intended pages are cleared. Runs are looked for inside 32768-pfn blocks, as
// makedumpfile walks its bitmap file block by block.
import type { MemMapRange } from '../kernel/memmap';
import type { Translator } from '../translate';
import { PfnRange, normalize } from './pfn-ranges';

const WORD_PFNS = 64;
const BLOCK_PFNS = 32768;

/**
 * Physical pfns of vmemmap pages that only describe excluded memory, for one slice of the
 * bitmaps starting at pfn `base` (a multiple of 32768).
 */
export function unusedVmemmap(memory: Uint8Array, dumpable: Uint8Array, base: number, nPfns: number,
  ranges: readonly MemMapRange[], sizePage: number, pageSize: number, tr: Translator): PfnRange[] {
  const out: PfnRange[] = [];
  const words = Math.floor(nPfns / WORD_PFNS);
  const flush = (startWord: number, endWord: number): void => {
    if (endWord - startWord < 2) return;
    const first = base + startWord * WORD_PFNS;
    const last = base + endWord * WORD_PFNS;
    for (const r of ranges) {
      const a = Math.max(first, r.pfnStart);
      const b = Math.min(last, r.pfnEnd);
      if (a >= b) continue;
      // struct pages of [a, b): whole pages only
      const vaStart = r.memMap + BigInt((a - r.pfnStart) * sizePage);
      const vaEnd = r.memMap + BigInt((b - r.pfnStart) * sizePage);
      const ps = BigInt(pageSize);
      let va = ((vaStart + ps - 1n) / ps) * ps;
      const end = (vaEnd / ps) * ps;
      for (; va < end; va += ps) {
        const pa = tr.vtop(va);
        if (pa >= 0) out.push([Math.floor(pa / pageSize), Math.floor(pa / pageSize) + 1]);
      }
    }
  };
  let start = -1;
  for (let w = 0; w < words; w++) {
    if (w % (BLOCK_PFNS / WORD_PFNS) === 0 && start >= 0) {
      flush(start, w);
      start = -1;
    }
    const o = w * 8;
    let full = true;
    let empty = true;
    for (let k = 0; k < 8; k++) {
      if (memory[o + k] !== 0xff) full = false;
      if (dumpable[o + k] !== 0) empty = false;
    }
    if (full && empty) {
      if (start < 0) start = w;
    } else if (start >= 0) {
      flush(start, w);
      start = -1;
    }
  }
  if (start >= 0) flush(start, words);
  return normalize(out);
}
