// The memory map as an SVG picture: physical memory along the pfn axis in rows of cells,
// each cell stacked by the share of each page class in it, then the legend with the -d 31
// figures and what each dump level keeps and would write. The figures are also in the
// file as JSON (<metadata id="cyclodump-map">) for scripts and tests.
import { MAP_CATEGORIES, MapCategory, MemoryMap, NCAT } from './memory-map';

const COLS = 128;
const CELL_W = 8;
const CELL_H = 14;
const ROW_GAP = 2;
const LEFT = 120;
const TOP = 78;
const WIDTH = LEFT + COLS * CELL_W + 40;
const FONT = 'font-family="DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(n: number, d = 1): string {
  return n.toFixed(d);
}

function mib(pages: number, pageSize: number): string {
  return fmt((pages * pageSize) / 1048576);
}

function sizeText(bytes: number): string {
  if (bytes >= 1 << 30) return `${fmt(bytes / (1 << 30), 2)} GiB`;
  return `${fmt(bytes / 1048576)} MiB`;
}

function hexAddr(pfn: number, pageSize: number): string {
  return '0x' + (pfn * pageSize).toString(16).padStart(9, '0');
}

/** The figures scripts and tests read back from the picture. */
export function mapMetadata(m: MemoryMap): Record<string, unknown> {
  return {
    schema: 'cyclodump-map/1',
    input: m.input, release: m.release, pageSize: m.pageSize, maxMapnr: m.maxMapnr,
    original: m.original, memoryHole: m.memoryHole, nodata: m.nodata,
    counts: m.counts, zeroIn: m.zeroIn, codec: m.codec, avgStored: m.avgStored, sampledPages: m.sampledPages,
    cellPfns: m.cellPfns, cells: m.cells, levels: m.levels,
  };
}

const LABEL: Record<string, string> = {
  zero: 'zero pages', cache: 'non-private cache', cachePrivate: 'private cache', user: 'user data', free: 'free pages',
  poison: 'hwpoison/offline',
};

export function renderMapSvg(m: MemoryMap): string {
  const rows = Math.ceil(m.cells / COLS);
  const gridH = rows * (CELL_H + ROW_GAP);
  const legendTop = TOP + gridH + 30;
  const tableTop = legendTop + 22 * NCAT + 40;
  const height = tableTop + 24 * (m.levels.length + 1) + 40;
  const o: string[] = [];
  o.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`);
  o.push(`<title>Physical memory of ${esc(m.input)} by page class</title>`);
  const meta = JSON.stringify(mapMetadata(m)).replace(/]]>/g, ']]\\u003e');
  o.push(`<metadata id="cyclodump-map"><![CDATA[${meta}]]></metadata>`);
  o.push(`<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`);
  o.push(`<text x="20" y="30" ${FONT} font-size="20" font-weight="bold" fill="#111">Physical memory by page class (as -d 31 sees it)</text>`);
  o.push(`<text x="20" y="54" ${FONT} font-size="13" fill="#333">${esc(m.input)}${m.release ? ` — Linux ${esc(m.release)}` : ''} — ${m.original} pages of ${m.pageSize} bytes (${mib(m.original, m.pageSize)} MiB) — one cell: ${m.cellPfns} pages (${fmt((m.cellPfns * m.pageSize) / 1048576, 2)} MiB), ${COLS} cells per row</text>`);
  drawGrid(o, m, rows);
  drawLegend(o, m, legendTop);
  drawLevels(o, m, tableTop);
  o.push(`</svg>`);
  return o.join('\n') + '\n';
}

/** The grid: per cell, a stack of bands in class order; runs of cells of one class merged. */
function drawGrid(o: string[], m: MemoryMap, rows: number): void {
  o.push(`<g id="grid" shape-rendering="crispEdges">`);
  for (let row = 0; row < rows; row++) {
    const y = TOP + row * (CELL_H + ROW_GAP);
    const firstCell = row * COLS;
    o.push(`<text x="${LEFT - 8}" y="${y + CELL_H - 3}" ${FONT} font-size="11" text-anchor="end" fill="#555">${hexAddr(firstCell * m.cellPfns, m.pageSize)}</text>`);
    let col = 0;
    while (col < COLS && firstCell + col < m.cells) {
      const cell = firstCell + col;
      const x = LEFT + col * CELL_W;
      const only = onlyClass(m, cell);
      if (only >= 0) {
        // a run of cells holding only this class
        let run = 1;
        while (col + run < COLS && cell + run < m.cells && onlyClass(m, cell + run) === only) run++;
        o.push(`<rect x="${x}" y="${y}" width="${run * CELL_W}" height="${CELL_H}" fill="${MAP_CATEGORIES[only].color}"/>`);
        col += run;
        continue;
      }
      const base = cell * NCAT;
      let total = 0;
      for (let k = 0; k < NCAT; k++) total += m.cellCounts[base + k];
      let acc = 0;
      for (let k = 0; k < NCAT; k++) {
        const n = m.cellCounts[base + k];
        if (n === 0) continue;
        const y0 = y + (CELL_H * acc) / total;
        acc += n;
        const y1 = y + (CELL_H * acc) / total;
        o.push(`<rect x="${x}" y="${fmt(y0, 2)}" width="${CELL_W}" height="${fmt(y1 - y0, 2)}" fill="${MAP_CATEGORIES[k].color}"/>`);
      }
      col++;
    }
  }
  o.push(`</g>`);
}

/** The one class a cell's pages are all of, or -1 (none, or several). */
function onlyClass(m: MemoryMap, cell: number): number {
  let only = -1;
  for (let k = 0; k < NCAT; k++) {
    if (m.cellCounts[cell * NCAT + k] === 0) continue;
    if (only >= 0) return -1;
    only = k;
  }
  return only;
}

/** The legend: the -d 31 figures of each class. */
function drawLegend(o: string[], m: MemoryMap, legendTop: number): void {
  o.push(`<g id="legend" ${FONT} font-size="13" fill="#111">`);
  o.push(`<text x="20" y="${legendTop - 8}" font-weight="bold">Page class</text>`);
  o.push(`<text x="460" y="${legendTop - 8}" font-weight="bold" text-anchor="end">pages</text>`);
  o.push(`<text x="560" y="${legendTop - 8}" font-weight="bold" text-anchor="end">MiB</text>`);
  o.push(`<text x="640" y="${legendTop - 8}" font-weight="bold" text-anchor="end">share</text>`);
  const present = Math.max(1, m.original);
  MAP_CATEGORIES.forEach((c, i) => {
    const y = legendTop + 22 * i;
    const n = m.counts[c.key as MapCategory];
    o.push(`<rect x="20" y="${y + 2}" width="16" height="14" fill="${c.color}" stroke="#222" stroke-width="0.5"/>`);
    o.push(`<text x="44" y="${y + 14}">${esc(c.label)}</text>`);
    o.push(`<text x="460" y="${y + 14}" text-anchor="end" data-class="${c.key}" data-pages="${n}">${n}</text>`);
    o.push(`<text x="560" y="${y + 14}" text-anchor="end">${mib(n, m.pageSize)}</text>`);
    o.push(`<text x="640" y="${y + 14}" text-anchor="end">${c.key === 'hole' ? '' : `${fmt((100 * n) / present)}%`}</text>`);
  });
  o.push(`</g>`);
}

/** What each level keeps and writes. */
function drawLevels(o: string[], m: MemoryMap, tableTop: number): void {
  o.push(`<g id="levels" ${FONT} font-size="13" fill="#111">`);
  o.push(`<text x="20" y="${tableTop - 14}" font-weight="bold">Dump level</text>`);
  o.push(`<text x="230" y="${tableTop - 14}" font-weight="bold" text-anchor="end">pages kept</text>`);
  o.push(`<text x="460" y="${tableTop - 14}" font-weight="bold" text-anchor="end">dump size (${esc(m.codec === 'none' ? 'no compression' : m.codec)}, estimated)</text>`);
  o.push(`<text x="490" y="${tableTop - 14}" font-weight="bold">leaves out</text>`);
  m.levels.forEach((l, i) => {
    const y = tableTop + 24 * i;
    o.push(`<text x="20" y="${y + 4}">-d ${l.level}</text>`);
    o.push(`<text x="230" y="${y + 4}" text-anchor="end" data-level="${l.level}" data-pages="${l.pages}">${l.pages}</text>`);
    o.push(`<text x="460" y="${y + 4}" text-anchor="end" data-level="${l.level}" data-bytes="${l.bytes}">${sizeText(l.bytes)}</text>`);
    o.push(`<text x="490" y="${y + 4}">${esc(l.leavesOut.length ? l.leavesOut.map((k) => LABEL[k] ?? k).join(', ') : 'nothing')}</text>`);
  });
  o.push(`<text x="20" y="${tableTop + 24 * m.levels.length + 10}" font-size="11" fill="#555">Sizes: kdump-compressed layout plus page data; compressed sizes from ${m.sampledPages} sampled pages.</text>`);
  o.push(`</g>`);
}

/** The same figures as text, for the terminal. */
export function formatMapText(m: MemoryMap): string {
  const present = Math.max(1, m.original);
  const lines = [
    `Memory of ${m.input}${m.release ? ` (Linux ${m.release})` : ''}: ${m.original} pages of ${m.pageSize} bytes, as -d 31 classes them`,
    '',
    `  ${'class'.padEnd(44)}${'pages'.padStart(12)}${'MiB'.padStart(10)}${'share'.padStart(8)}`,
  ];
  for (const c of MAP_CATEGORIES) {
    const n = m.counts[c.key as MapCategory];
    lines.push(`  ${c.label.padEnd(44)}${String(n).padStart(12)}${mib(n, m.pageSize).padStart(10)}${(c.key === 'hole' ? '' : `${fmt((100 * n) / present)}%`).padStart(8)}`);
  }
  lines.push('', `  ${'level'.padEnd(8)}${'pages kept'.padStart(12)}${'est. size'.padStart(14)}   leaves out (${m.codec === 'none' ? 'no compression' : m.codec})`);
  for (const l of m.levels) {
    lines.push(`  ${`-d ${l.level}`.padEnd(8)}${String(l.pages).padStart(12)}${sizeText(l.bytes).padStart(14)}   ${l.leavesOut.length ? l.leavesOut.map((k) => LABEL[k] ?? k).join(', ') : 'nothing'}`);
  }
  lines.push('');
  return lines.join('\n');
}
