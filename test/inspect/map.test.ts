// Issue 8: `cyclodump map` on the real 6.1 fixture: the picture's figures are the -d 31
// report's, its per-level pages are what dumps at those levels keep and its sizes what
// they write, and it renders in headless Chromium with each class drawn in its share.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { needChromium, screenshot } from '../helpers/chromium';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { readPng } from '../helpers/png';
import { cyclodump, parseReport } from '../helpers/tools';
import { MAP_CATEGORIES } from '../../src/inspect/memory-map';

interface Meta {
  maxMapnr: number;
  original: number;
  memoryHole: number;
  nodata: number;
  counts: Record<string, number>;
  cellPfns: number;
  cells: number;
  levels: { level: number; pages: number; descriptors: number; bytes: number; leavesOut: string[] }[];
}

function metadataOf(svg: string): Meta {
  const m = /<metadata id="cyclodump-map"><!\[CDATA\[(.*?)\]\]><\/metadata>/s.exec(svg);
  if (!m) throw new Error('no cyclodump-map metadata in the SVG');
  return JSON.parse(m[1]) as Meta;
}

function hexColor(c: string): [number, number, number] {
  return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
}

describe('cyclodump map (real-1g)', function () {
  let vmcore: string;
  let dir: string;
  let svgFile: string;
  let svg: string;
  let meta: Meta;
  let report: Record<string, unknown> & { pages: Record<string, number> };
  let dump31: string;

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('map');
    svgFile = path.join(dir, 'map.svg');
    const r = cyclodump(['map', '-l', '--message-level', '0', vmcore, '--svg', svgFile]);
    expect(r.code, r.stderr).to.equal(0);
    svg = fs.readFileSync(svgFile, 'utf8');
    meta = metadataOf(svg);
    dump31 = path.join(dir, 'd31.lzo');
    const d = cyclodump(['-l', '-d', '31', '--message-level', '0', '--report-json', path.join(dir, 'r.json'), vmcore, dump31]);
    expect(d.code, d.stderr).to.equal(0);
    report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('its page classes are the -d 31 report\'s figures, in the picture\'s legend too', function () {
    const p = report.pages;
    expect(meta.original).to.equal(p.original);
    expect(meta.memoryHole).to.equal(p.memoryHole);
    expect(meta.maxMapnr).to.equal(p.total);
    expect(meta.counts.zero).to.equal(p.zero);
    expect(meta.counts.cache).to.equal(p.cache);
    expect(meta.counts.cachePrivate).to.equal(p.cachePrivate);
    expect(meta.counts.user).to.equal(p.user);
    expect(meta.counts.free).to.equal(p.free);
    expect(meta.counts.poison).to.equal(p.hwpoison + p.offline);
    expect(meta.counts.kernel + meta.nodata).to.equal(p.remaining);
    const sum = Object.values(meta.counts).reduce((a, b) => a + b, 0);
    expect(sum).to.equal(meta.maxMapnr);
    for (const c of MAP_CATEGORIES) {
      expect(svg, c.key).to.include(`data-class="${c.key}" data-pages="${meta.counts[c.key]}">${meta.counts[c.key]}<`);
    }
    const l31 = meta.levels.find((l) => l.level === 31)!;
    expect(l31.pages).to.equal(p.remaining);
    expect(svg).to.include(`data-level="31" data-pages="${p.remaining}"`);
  });

  it('the pages each level keeps are what a dump at that level keeps', function () {
    for (const l of meta.levels) {
      const r = cyclodump(['-l', '-d', String(l.level), '--dry-run', '--message-level', '16', vmcore, path.join(dir, 'x')]);
      expect(r.code, r.stderr).to.equal(0);
      expect(parseReport(r.stdout).remaining, `-d ${l.level}`).to.equal(l.pages);
    }
  });

  it('the sizes it estimates are the sizes written: exact without compression, within 2% with -l', function () {
    // -l at -d 31: the dump written in before()
    const l31 = meta.levels.find((l) => l.level === 31)!;
    const actual = fs.statSync(dump31).size;
    expect(Math.abs(l31.bytes - actual) / actual).to.be.lessThan(0.02);
    // raw pages: the estimate is the layout's arithmetic, so it is exact
    const raw = cyclodump(['map', '--json', '--message-level', '0', vmcore]);
    expect(raw.code, raw.stderr).to.equal(0);
    const levels = (JSON.parse(raw.stdout) as Meta).levels;
    for (const level of [31]) {
      const out = path.join(dir, `raw-${level}.dump`);
      expect(cyclodump(['-d', String(level), '--message-level', '0', vmcore, out]).code).to.equal(0);
      expect(levels.find((l) => l.level === level)!.bytes, `-d ${level}`).to.equal(fs.statSync(out).size);
      fs.rmSync(out);
    }
  });

  it('refuses a kdump-compressed dump, which lacks the pages it left out', function () {
    const r = cyclodump(['map', dump31, '--svg', path.join(dir, 'never.svg')]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^cyclodump: .*is a kdump-compressed dump: .*cyclodump info/);
    expect(fs.existsSync(path.join(dir, 'never.svg'))).to.equal(false);
  });

  it('renders in headless Chromium, every class drawn in its share of memory', function () {
    const chromium = needChromium(this);
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    const height = Number(/<svg [^>]*height="(\d+)"/.exec(svg)![1]);
    const png = path.join(dir, 'map.png');
    screenshot(chromium, svgFile, png, width, height);
    const img = readPng(png);
    expect(img.width).to.equal(width);
    // not blank: most of the picture is drawn
    let nonWhite = 0;
    for (let i = 0; i < img.rgba.length; i += 4) {
      if (img.rgba[i] < 250 || img.rgba[i + 1] < 250 || img.rgba[i + 2] < 250) nonWhite++;
    }
    expect(nonWhite / (img.width * img.height)).to.be.greaterThan(0.3);
    // the grid (rows of 128 cells of 8x14 px from (120, 78), 2 px between rows)
    const rows = Math.ceil(meta.cells / 128);
    const colors = MAP_CATEGORIES.map((c) => hexColor(c.color));
    const pix = new Array<number>(colors.length).fill(0);
    let gridPix = 0;
    for (let y = 78; y < 78 + rows * 16; y++) {
      for (let x = 120; x < 120 + 128 * 8; x++) {
        const o = (y * img.width + x) * 4;
        const k = colors.findIndex(([r, g, b]) => img.rgba[o] === r && img.rgba[o + 1] === g && img.rgba[o + 2] === b);
        if (k >= 0) { pix[k]++; gridPix++; }
      }
    }
    expect(gridPix).to.be.greaterThan(rows * 128 * 8 * 14 * 0.95);
    MAP_CATEGORIES.forEach((c, k) => {
      const share = meta.counts[c.key] / meta.maxMapnr;
      const drawn = pix[k] / gridPix;
      expect(drawn, `${c.key}: ${(100 * drawn).toFixed(2)}% of the grid for ${(100 * share).toFixed(2)}% of the pages`).to.be.closeTo(share, 0.02);
      if (share > 0.01) expect(pix[k], c.key).to.be.greaterThan(0);
    });
  });
});
