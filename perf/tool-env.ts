import { execFileSync } from 'child_process';
import * as path from 'path';

/**
 * The environment both tools run in. NODE_EXTRA_CA_CERTS (set in some sandboxes and CI
 * images) makes every Node process load a certificate file at start-up, about 0.1 s here,
 * which a capture kernel's environment does not have; makedumpfile ignores it.
 */
export function toolEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** The commit measured (with -dirty when the work tree differs), for RESULTS.md. */
export function measuredCommit(): string {
  const repo = path.resolve(__dirname, '../..');
  try {
    const head = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'latin1' }).trim();
    // the results files themselves change during a run
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':!perf/RESULTS.md', ':!perf/*.svg'], { encoding: 'latin1' }).trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}
