// Runs makedumpfile (or cyclodump, same command line) on a generated vmcore and
// compares the page counts of its --message-level 31 report with the
// generator's FILE.expected.json.
//
//   node dist/perf/synth/check.js VMCORE [--tool PATH] [-d LEVEL]... [--keep] [-- extra args]
// Defaults: makedumpfile, levels 31 1 0 17, "-l" compression.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { ExpectedJson } from './generate';
import type { LevelCounts } from './kinds';

/** Report lines of makedumpfile's print_report(), label → field. */
const REPORT_LINES: [RegExp, keyof ReportCounts][] = [
  [/^Original pages\s*:\s*0x([0-9a-f]+)/m, 'original'],
  [/^\s*Excluded pages\s*:\s*0x([0-9a-f]+)/m, 'excluded'],
  [/^\s*Pages filled with zero\s*:\s*0x([0-9a-f]+)/m, 'zero'],
  [/^\s*Non-private cache pages\s*:\s*0x([0-9a-f]+)/m, 'cache'],
  [/^\s*Private cache pages\s*:\s*0x([0-9a-f]+)/m, 'cache_private'],
  [/^\s*User process data pages\s*:\s*0x([0-9a-f]+)/m, 'user'],
  [/^\s*Free pages\s*:\s*0x([0-9a-f]+)/m, 'free'],
  [/^\s*Hwpoison pages\s*:\s*0x([0-9a-f]+)/m, 'hwpoison'],
  [/^\s*Offline pages\s*:\s*0x([0-9a-f]+)/m, 'offline'],
  [/^\s*Remaining pages\s*:\s*0x([0-9a-f]+)/m, 'remaining'],
  [/^Memory Hole\s*:\s*0x([0-9a-f]+)/m, 'memory_hole'],
  [/^Total pages\s*:\s*0x([0-9a-f]+)/m, 'total'],
];

export interface ReportCounts {
  original: number;
  excluded: number;
  zero: number;
  cache: number;
  cache_private: number;
  user: number;
  free: number;
  hwpoison: number;
  offline: number;
  remaining: number;
  memory_hole: number;
  total: number;
}

export const COMPARED_FIELDS: (keyof ReportCounts)[] = REPORT_LINES.map(([, k]) => k);

/** Parses the counts of a makedumpfile report; throws when a line is missing. */
export function parseReport(text: string): ReportCounts {
  const out: Partial<ReportCounts> = {};
  for (const [re, key] of REPORT_LINES) {
    const m = re.exec(text);
    if (!m) throw new Error(`report line for ${key} not found`);
    out[key] = parseInt(m[1], 16);
  }
  return out as ReportCounts;
}

export function compareCounts(expected: LevelCounts, got: ReportCounts): string[] {
  const diffs: string[] = [];
  for (const k of COMPARED_FIELDS) {
    if (expected[k] !== got[k]) diffs.push(`${k}: expected ${expected[k]}, got ${got[k]}`);
  }
  return diffs;
}

export interface DumpRun {
  command: string[];
  status: number | null;
  output: string;
  counts?: ReportCounts;
  seconds: number;
  outputBytes: number;
}

/**
 * Runs `tool [args] -d LEVEL --message-level 31 VMCORE OUT` and parses its report.
 * The dump file is removed afterwards unless keepOutput.
 */
export function runDumpTool(
  tool: string, vmcore: string, level: number, outFile: string, extraArgs: string[] = ['-l'], keepOutput = false,
): DumpRun {
  const command = [tool, ...extraArgs, '-d', String(level), '--message-level', '31', vmcore, outFile];
  fs.rmSync(outFile, { force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync(command[0], command.slice(1), { encoding: 'latin1', maxBuffer: 256 * 2 ** 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  let counts: ReportCounts | undefined;
  try {
    counts = parseReport(output);
  } catch {
    counts = undefined;
  }
  let outputBytes = 0;
  try {
    outputBytes = fs.statSync(outFile).size;
  } catch {
    outputBytes = 0;
  }
  if (!keepOutput) fs.rmSync(outFile, { force: true });
  return { command, status: r.status, output, counts, seconds, outputBytes };
}

export function readExpected(vmcore: string): ExpectedJson {
  return JSON.parse(fs.readFileSync(`${vmcore}.expected.json`, 'utf8')) as ExpectedJson;
}

function main(argv: string[]): number {
  let tool = 'makedumpfile';
  const levels: number[] = [];
  let keep = false;
  let extra: string[] | undefined;
  let vmcore: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--tool') tool = argv[++i];
    else if (a === '-d') levels.push(Number(argv[++i]));
    else if (a === '--keep') keep = true;
    else if (a === '--') {
      extra = argv.slice(i + 1);
      break;
    } else vmcore = a;
  }
  if (!vmcore) {
    process.stderr.write('usage: check.js VMCORE [--tool PATH] [-d LEVEL]... [--keep] [-- extra dump args]\n');
    return 2;
  }
  const expected = readExpected(vmcore);
  const outDir = fs.mkdtempSync(path.join(path.dirname(path.resolve(vmcore)), 'synth-check-'));
  let failed = 0;
  try {
    for (const level of levels.length > 0 ? levels : [31, 1, 0, 17]) {
      const out = path.join(outDir, `d${level}.dump`);
      const run = runDumpTool(tool, vmcore, level, out, extra ?? ['-l'], keep);
      const want = expected.levels[String(level)];
      const diffs = run.status !== 0 ? [`exit status ${run.status}`]
        : run.counts ? compareCounts(want, run.counts) : ['no report in the output'];
      const c = run.counts;
      process.stdout.write(`${path.basename(tool)} -d ${level} ${(extra ?? ['-l']).join(' ')}: `
        + `${diffs.length === 0 ? 'OK' : 'MISMATCH'} (${run.seconds.toFixed(2)} s, output ${run.outputBytes} bytes)`
        + (c ? ` zero=${c.zero} cache=${c.cache} cache_private=${c.cache_private} user=${c.user} free=${c.free}`
          + ` hwpoison=${c.hwpoison} offline=${c.offline} remaining=${c.remaining} hole=${c.memory_hole}` : '')
        + '\n');
      for (const d of diffs) process.stdout.write(`  ${d}\n`);
      if (diffs.length > 0) {
        failed++;
        if (!c) process.stdout.write(run.output.split('\n').slice(-30).join('\n'));
      }
      if (keep) process.stdout.write(`  kept ${out}\n`);
    }
  } finally {
    if (!keep) fs.rmSync(outDir, { recursive: true, force: true });
  }
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
