// Build step: the C header of everything native/ shares with the TypeScript code, made
// from the TypeScript declarations so that no table or constant is written twice. The
// node-gyp build runs native/generate-header.js, which loads this module (from src/ in a
// clone, from dist/src/ in the npm package) and writes renderHeader() where binding.gyp
// compiles from. The header is never committed nor edited by hand.
//
// Each group's declarations also go into the addon as text (scanDeclarations,
// pageLoopDeclarations); the TypeScript side compares them with its own before it uses the
// addon, so a build from other declarations is never used.
import { NATIVE_METHOD, OFFSET_MARK, PAGE_MARK, TALLY, pageLoopDeclarations } from '../codec/native-pages';
import { COUNTERS, HUGE_KIND, ORDER_KIND, RULE_FIELDS, SLAB_KIND, VERDICT, scanDeclarations } from '../filter/page-rules';

/** wordsPerPage -> WORDS_PER_PAGE */
function cName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function defines(prefix: string, group: Record<string, number>): string[] {
  const literal = (v: number): string => (v < 0 ? `(${v})` : v > 0x7fffffff ? `${v}u` : `${v}`);
  return Object.entries(group).map(([k, v]) => `#define ${prefix}${cName(k)} ${literal(v)}`);
}

export function renderHeader(): string {
  const fields = RULE_FIELDS.map((f, i) => `\tR_${cName(f)} = ${i},`);
  return [
    '/* Generated at build time by src/cli/native-header.ts; do not edit. */',
    '#ifndef CYCLODUMP_SHARED_H',
    '#define CYCLODUMP_SHARED_H',
    '',
    '/* src/filter/page-rules.ts: the rules\' fields (RULE_FIELDS), in the order of their Int32Array */',
    'enum {', ...fields, `\tR_COUNT = ${RULE_FIELDS.length}`, '};',
    ...defines('ORDER_KIND_', ORDER_KIND),
    ...defines('HUGE_KIND_', HUGE_KIND),
    ...defines('SLAB_KIND_', SLAB_KIND),
    ...defines('VERDICT_', VERDICT),
    ...defines('', COUNTERS),
    `#define SCAN_DECLARATIONS ${JSON.stringify(scanDeclarations())}`,
    '',
    '/* src/codec/native-pages.ts: the page loop\'s methods, marks and tally */',
    ...defines('METHOD_', NATIVE_METHOD),
    ...defines('PAGE_MARK_', PAGE_MARK),
    ...defines('OFFSET_MARK_', OFFSET_MARK),
    ...defines('TALLY_', TALLY),
    `#define PAGE_LOOP_DECLARATIONS ${JSON.stringify(pageLoopDeclarations())}`,
    '',
    '#endif',
    '',
  ].join('\n');
}
