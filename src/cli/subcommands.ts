// `cyclodump info DUMPFILE` and `cyclodump map VMCORE --svg FILE` (operator tools).
import { DumpError, EXIT_FAILED } from '../util/errors';

export async function subcommand(name: string, args: string[]): Promise<number> {
  void args;
  throw new DumpError('usage', `cyclodump ${name}: not available in this build`);
  return EXIT_FAILED;
}
