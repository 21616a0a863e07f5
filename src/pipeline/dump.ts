// A whole dump into one output: kdump-compressed or ELF, to a file, a flattened stream or
// nowhere. The coordinator runs it; this picks the writer.
import type { DumpWriter } from '../format/dump-writer';
import { KdumpWriter } from '../format/kdump-writer';
import type { DumpSink } from '../format/sink';
import { DumpError } from '../util/errors';
import type { Messages } from '../util/messages';
import { Coordinator, DumpOutcome } from './coordinator';
import { kdumpFileValues } from './kdump-output';
import { OutputOptions, Outputs } from './outputs';
import { DumpOptions, PreparedDump, closeJob, prepareDump } from './prepare';
import { preadFull } from '../util/file';

export { repairShortWrites } from '../format/kdump-writer';
export type { DumpOutcome } from './coordinator';

export interface RunOptions extends DumpOptions, OutputOptions {
  /** DUMP_DH_* bits to add to the header status (-e) */
  extraStatus?: number;
}

export async function runDump(opts: RunOptions, msgs: Messages): Promise<DumpOutcome> {
  const prep = prepareDump(opts, msgs);
  let outputs: Outputs;
  let writer: DumpWriter;
  try {
    // the writer's code is loaded before the file is made: from its creation to the first
    // header nothing waits (a run killed there would leave an empty file)
    const makeWriter = opts.elf ? await elfWriter(prep) : (sink: DumpSink) => new KdumpWriter(sink, kdumpFileValues(prep, opts.extraStatus));
    outputs = Outputs.open(opts, prep.plan.pageSize);
    writer = makeWriter(outputs.sinks[0]);
  } catch (e) {
    await closeJob(prep);
    throw e;
  }
  return new Coordinator(prep).run(outputs, writer);
}

/** -E: the ELF writer over the input's headers and file data (loaded only for -E). */
async function elfWriter(prep: PreparedDump): Promise<(sink: DumpSink) => DumpWriter> {
  const { input, plan } = prep;
  const headers = input.elfHeaders;
  const direct = input.direct;
  if (!headers || !direct) throw new DumpError('elf-from-kdump', 'ELF output needs an ELF vmcore as input');
  const { ElfWriter } = await import('../format/elf-writer');
  return (sink) => new ElfWriter(sink, {
    ...headers, path: input.path, noteBytes: input.noteBytes, loads: input.loads,
    read: (pa, buf, off, len) => input.read(pa, buf, off, len),
    readFile: (buf, len, pos) => preadFull(direct.fd, buf, 0, len, pos),
  }, { pageSize: plan.pageSize, maxMapnr: plan.maxMapnr, mode: plan.cycles.mode, excludeZero: plan.worker.excludeZero });
}
