// --split: one dump as several kdump-compressed files, each holding the pages of one pfn
// range. Every file is a whole split part (same main header, both bitmaps in full, a
// descriptor table sized for the whole dump); a batch of pages goes to the file whose
// range holds it. Spec: flattened-and-split.md §2.
import type { CycleBitmap, DumpGeometry, DumpWriter, PageBatchWrite } from './dump-writer';
import type { KdumpWriter } from './kdump-writer';

export class SplitWriter implements DumpWriter {
  readonly pageRanges: readonly { start: number; end: number }[];

  /** @param parts one writer per file, their split ranges in pfn order and chaining */
  constructor(readonly parts: readonly KdumpWriter[]) {
    this.pageRanges = parts.map((p) => p.pageRanges[0]);
  }

  get stored(): boolean {
    return this.parts.some((p) => p.stored);
  }

  get failure(): unknown {
    return this.parts.find((p) => p.failure !== undefined)?.failure;
  }

  begin(g: DumpGeometry): void {
    // every file's headers (its range known now, over start()'s) and 1st bitmap, then every
    // file's data area, as makedumpfile
    for (const p of this.parts) {
      p.writeHeaders();
      p.writeMemoryBitmap(g);
    }
    for (const p of this.parts) p.startData(g.numDumpable);
  }

  bitmap(c: CycleBitmap): void {
    for (const p of this.parts) p.bitmap(c);
  }

  pages(b: PageBatchWrite): Promise<void> {
    const part = this.parts.find((p) => b.pfnStart < p.pageRanges[0].end) ?? this.parts[this.parts.length - 1];
    return part.pages(b);
  }

  checkpoint(): void {
    for (const p of this.parts) p.checkpoint();
  }

  /** Every part's data first, then every part's header: no part says complete while another may still fail. */
  async finish(): Promise<void> {
    for (const p of this.parts) await p.finishData();
    for (const p of this.parts) p.seal();
  }

  async settle(): Promise<void> {
    for (const p of this.parts) await p.settle();
  }

  /** A full disk under any part marks every part incomplete, as makedumpfile does. */
  markIncomplete(): number {
    let marked = 0;
    for (const p of this.parts) marked += p.markIncomplete();
    return marked;
  }
}
