#!/usr/bin/env node
// Command line of the synthetic vmcore generator:
//   node dist/perf/synth/cli.js --ram SIZE --out FILE [--arch x86_64|arm64] [--seed N]
//        [--layout sparse-extreme|sparse|flat] [--levels 4|5] [--mix NAME|k=v,...]
//        [--nodes N] [--cpus N] [--vaddr direct|phys] [--data SIZE|all]
//        [--osrelease S] [--crashtime N] [--quiet] [--json]
import { parseArgs } from 'util';
import { generateVmcore, ExpectedJson } from './generate';
import { PRESETS, MIX_KEYS } from './mix';
import { formatSize, parseSize } from './units';
import { MemoryModel, SynthArch } from './layout';

const USAGE = `usage: cli.js --ram SIZE --out FILE [options]

Writes FILE, an ELF64 x86_64 or arm64 vmcore of a synthetic Linux 6.1 machine with
SIZE of RAM (sparse on disk), and FILE.expected.json, the page counts makedumpfile
1.7.2 (built for that architecture) reports for every dump level 0..31.

  --ram SIZE          RAM size, e.g. 1G, 64G, 1T (multiple of 2 MiB, >= 256M)
  --out FILE          output vmcore
  --arch ARCH         x86_64 (default) or arm64 (4 KiB pages, 48-bit VAs, RAM from 1 GiB;
                      sparse-extreme, 4 levels)
  --seed N            PRNG seed (default 1); same seed, same file
  --layout MODEL      sparse-extreme (default, what x86_64 6.1 uses), sparse, flat
  --levels 4|5        paging levels (default 4)
  --mix SPEC          memory mix: preset name and/or key=value list, e.g.
                      "edge" or "user,thp=0.5" (presets: ${Object.keys(PRESETS).join(', ')};
                      keys: ${MIX_KEYS.join(', ')})
  --nodes N           NUMA nodes (default: 1 below 16 GiB, then 2..8)
  --cpus N            CORE/NT_PRSTATUS notes (default from RAM size)
  --vaddr MODE        PT_LOAD p_vaddr: direct (direct-map address, default) or phys (= p_paddr, QEMU)
  --data SIZE|all     non-zero page data to aim for (default min(RAM, 4G)); struct pages,
                      page tables and the kernel image come on top
  --osrelease S       OSRELEASE and utsname release (default the 6.1 template's)
  --crashtime N       CRASHTIME (default from the seed)
  --quiet             no progress, no table
  --json              print the expected JSON instead of the table
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ram: { type: 'string' }, out: { type: 'string' }, arch: { type: 'string' }, seed: { type: 'string' }, layout: { type: 'string' },
      levels: { type: 'string' }, mix: { type: 'string' }, nodes: { type: 'string' }, cpus: { type: 'string' },
      vaddr: { type: 'string' }, data: { type: 'string' }, osrelease: { type: 'string' },
      crashtime: { type: 'string' }, quiet: { type: 'boolean' }, json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.ram || !values.out) {
    process.stderr.write(USAGE);
    return 2;
  }
  const arch = (values.arch ?? 'x86_64') as SynthArch;
  if (arch !== 'x86_64' && arch !== 'arm64') throw new Error(`bad --arch ${arch}: x86_64 or arm64`);
  const layout = (values.layout ?? 'sparse-extreme') as MemoryModel;
  if (!['sparse-extreme', 'sparse', 'flat'].includes(layout)) throw new Error(`bad --layout ${layout}`);
  const levels = Number(values.levels ?? 4);
  if (levels !== 4 && levels !== 5) throw new Error('--levels must be 4 or 5');
  const vaddr = values.vaddr ?? 'direct';
  if (vaddr !== 'direct' && vaddr !== 'phys') throw new Error('--vaddr must be direct or phys');
  const int = (s: string | undefined, what: string): number | undefined => {
    if (s === undefined) return undefined;
    const v = Number(s);
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${what} must be a non-negative integer`);
    return v;
  };
  const result = await generateVmcore({
    arch,
    ramBytes: parseSize(values.ram),
    out: values.out,
    seed: int(values.seed, '--seed'),
    layout,
    levels,
    mix: values.mix,
    nodes: int(values.nodes, '--nodes'),
    cpus: int(values.cpus, '--cpus'),
    vaddr,
    dataBytes: values.data === undefined ? undefined : values.data === 'all' ? 'all' : parseSize(values.data),
    osrelease: values.osrelease,
    crashTime: int(values.crashtime, '--crashtime'),
    progress: !values.quiet,
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result.expected, null, 1)}\n`);
  } else if (!values.quiet) {
    process.stdout.write(report(result.expected, result.path, result.expectedPath));
  }
  return 0;
}

export function report(e: ExpectedJson, path: string, expectedPath: string): string {
  const lines: string[] = [];
  const g = e.generator;
  lines.push(`${path}: ${g.arch} ${formatSize(g.ram_bytes)} RAM, ${g.layout}, ${g.levels}-level, mix ${g.mix_name}, seed ${g.seed}`);
  lines.push(`  ${e.machine.pt_loads.length} PT_LOADs, ${e.machine.nodes} node(s), ${e.machine.cpus} cpus, `
    + `max_mapnr ${e.machine.max_mapnr}, ${e.machine.sections_present} sections`);
  lines.push(`  file ${formatSize(e.file.bytes)}, written ${formatSize(e.file.written_bytes)} `
    + `in ${e.timing.seconds.toFixed(1)} s (${e.timing.virtual_mb_per_s} MB/s virtual, ${e.timing.written_mb_per_s} MB/s written)`);
  lines.push(`  expected counts (makedumpfile --message-level 31): ${expectedPath}`);
  const cols = ['zero', 'cache', 'cache_private', 'user', 'free', 'hwpoison', 'offline', 'remaining'] as const;
  lines.push(`  ${'-d'.padStart(3)} ${cols.map((c) => c.padStart(13)).join(' ')}`);
  for (let d = 0; d < 32; d++) {
    const l = e.levels[String(d)];
    lines.push(`  ${String(d).padStart(3)} ${cols.map((c) => String(l[c]).padStart(13)).join(' ')}`);
  }
  const l0 = e.levels['0'];
  lines.push(`  original ${l0.original}, memory hole ${l0.memory_hole}, total ${l0.total}`);
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (err: Error) => {
    process.stderr.write(`synth: ${err.message}\n`);
    process.exitCode = 1;
  });
}
