// --mem-usage: how many pages of each kind the crashed (or, given /proc/kcore, the running)
// system has, as makedumpfile prints it; nothing is written. Like makedumpfile it classifies
// at dump level 31 and finds pages filled with zero while building the bitmap.
import { C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER, C_ZERO } from '../filter/dump-level';
import type { Messages } from '../util/messages';
import { DumpOptions, closeJob, prepareDump } from './prepare';
import { scanPass } from './scan-pass';

export async function runMemUsage(opts: DumpOptions, msgs: Messages): Promise<void> {
  const job = prepareDump({ ...opts, dumpLevel: 31, memUsage: true, forceOneCycle: true }, msgs);
  try {
    job.progress.label = 'Scanning';
    await scanPass(job);
    job.progress.finish();
    const c = job.counts;
    const original = job.maxMapnr - job.sets.memoryHole;
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
      `page size:\t\t${col(job.pageSize)}`,
      `Total pages on system:\t${col(original)}`,
      `Total size on system:\t${col(original * job.pageSize)} Byte`,
    ].join('\n'));
  } finally {
    await closeJob(job);
  }
}
