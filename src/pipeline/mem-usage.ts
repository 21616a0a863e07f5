// --mem-usage: how many pages of each kind the crashed (or, given /proc/kcore, the running)
// system has, as makedumpfile prints it; nothing is written. Like makedumpfile it classifies
// at dump level 31 and finds pages filled with zero while building the bitmap.
import { C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER, C_ZERO, MAX_DUMP_LEVEL } from '../filter/dump-level';
import type { Messages } from '../util/messages';
import { DumpOptions, closeJob, prepareDump } from './prepare';
import { Progress } from './progress';
import { progressPlan, scanPass } from './scan-pass';
import { Tally } from './tally';

export async function runMemUsage(opts: DumpOptions, msgs: Messages): Promise<void> {
  const prep = prepareDump({ ...opts, dumpLevel: MAX_DUMP_LEVEL, memUsage: true, forceOneCycle: true }, msgs);
  const progress = new Progress(msgs, { label: 'Scanning' });
  try {
    const tally = new Tally();
    progress.begin(progressPlan(prep.plan, false));
    await scanPass(prep, { tally, progress });
    progress.finish();
    const c = tally.counts;
    const { maxMapnr, pageSize, pfns } = prep.plan;
    const original = maxMapnr - pfns.memoryHole;
    const excluded = c[C_ZERO] + c[C_CACHE] + c[C_CACHE_PRIVATE] + c[C_USER] + c[C_FREE] + c[C_HWPOISON] + c[C_OFFLINE];
    const col = (n: number) => String(n).padEnd(16);
    msgs.msg([
      '',
      'TYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION',
      '----------------------------------------------------------------------',
      `ZERO\t\t${col(c[C_ZERO])}\tyes\t\tPages filled with zero`,
      `NON_PRI_CACHE\t${col(c[C_CACHE])}\tyes\t\tCache pages without private flag`,
      `PRI_CACHE\t${col(c[C_CACHE_PRIVATE])}\tyes\t\tCache pages with private flag`,
      `USER\t\t${col(c[C_USER])}\tyes\t\tUser process pages`,
      `FREE\t\t${col(c[C_FREE])}\tyes\t\tFree pages`,
      `KERN_DATA\t${col(original - excluded)}\tno\t\tDumpable kernel data `,
      '',
      `page size:\t\t${col(pageSize)}`,
      `Total pages on system:\t${col(original)}`,
      `Total size on system:\t${col(original * pageSize)} Byte`,
    ].join('\n'));
  } finally {
    progress.stop();
    await closeJob(prep);
  }
}
