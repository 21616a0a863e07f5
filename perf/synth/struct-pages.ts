// The struct pages of a few memory sections of a synthetic machine, in memory, with the
// VMCOREINFO that describes them and the kind of every page: what a test of the page
// decision table needs, without writing a vmcore.

import { GiB, Layout, SECTION_PFNS, buildLayout } from './layout';
import { Generation, generationVmcoreinfo } from './generations';
import { poolBytesFor } from './kernel';
import { parseMix } from './mix';
import { CHUNK, ChunkPlan, Planner } from './planner';
import { Rng, hashOf } from './prng';
import { StructPageEncoder } from './structpage';
import { TEMPLATE_VMCOREINFO } from './template';
import { kernelFacts, kernelSymbol } from './vmcoreinfo';

export interface StructPageSample {
  vmcoreinfo: string;
  /** pfn of the first struct page */
  firstPfn: number;
  /** 64 bytes per pfn from firstPfn */
  pages: Uint8Array;
  /** kinds.ts K of each page, and of its unit's first page */
  kind: Uint8Array;
  acct: Uint8Array;
}

export interface SampleOptions {
  generation: Generation;
  /** present memory sections taken, from `firstSection` on */
  sections: number;
  /** index of the first present section taken (default 1: the first holds the low-memory holes) */
  firstSection?: number;
  /** the synthetic machine's RAM (default 1 GiB) */
  ramBytes?: number;
  seed?: number;
  /** mix.ts spec (default 'edge') */
  mix?: string;
}

export function sampleStructPages(o: SampleOptions): StructPageSample {
  const seed = o.seed ?? 1;
  const rng = new Rng(hashOf(seed, 0x6c61796f));
  const layout: Layout = buildLayout({ ramBytes: o.ramBytes ?? GiB, model: 'sparse-extreme', levels: 4, seed }, rng, poolBytesFor);
  const from = o.firstSection ?? 1;
  const sections = layout.sections.slice(from, from + o.sections);
  if (sections.length < o.sections) throw new Error(`the machine has fewer than ${from + o.sections} sections`);
  const planner = new Planner(layout, parseMix(o.mix ?? 'edge').mix, seed);
  const stext = kernelSymbol(layout, '_stext');
  const encoder = new StructPageEncoder(layout, planner, kernelFacts(), o.generation, stext);
  const n = sections.length * SECTION_PFNS;
  const words = new Int32Array(n * 16);
  sections.forEach((s, i) => encoder.encode(s, 0, SECTION_PFNS * 64 / 4096, words, i * SECTION_PFNS * 16));
  const firstPfn = sections[0] * SECTION_PFNS;
  const kind = new Uint8Array(n);
  const acct = new Uint8Array(n);
  const plan = new ChunkPlan();
  for (let pfn = firstPfn; pfn < firstPfn + n; pfn += CHUNK) {
    planner.plan(pfn / CHUNK, plan, false);
    kind.set(plan.kind, pfn - firstPfn);
    acct.set(plan.acct, pfn - firstPfn);
  }
  const vmcoreinfo = `${generationVmcoreinfo(o.generation, TEMPLATE_VMCOREINFO, stext).join('\n')}\n`;
  return { vmcoreinfo, firstPfn, pages: new Uint8Array(words.buffer), kind, acct };
}
