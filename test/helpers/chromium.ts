// Debian's Chromium, headless, for pictures the tests must see rendered. .ci/run installs
// it; on a machine without it the tests that need it are skipped with a message (and fail
// under CI, where it must be there).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function chromiumPath(): string | undefined {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Skips the calling test (or fails under CI) when Chromium is missing. */
export function needChromium(ctx: Mocha.Context): string {
  const c = chromiumPath();
  if (c) return c;
  if (process.env.CI) throw new Error('chromium is not installed, but CI installs it (.ci/run): the install step failed');
  // eslint-disable-next-line no-console
  console.log('      (skipped: Debian\'s chromium is not installed here; `apt-get install chromium`, or run .ci/run)');
  ctx.skip();
  return '';
}

/** A headless screenshot of a local file at the given window size. */
export function screenshot(chromium: string, file: string, png: string, width: number, height: number): void {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cyclodump-chromium-'));
  try {
    const r = spawnSync(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--hide-scrollbars',
      `--window-size=${width},${height}`, `--screenshot=${png}`, `file://${path.resolve(file)}`,
    ], { encoding: 'latin1', timeout: 120_000 });
    if (!fs.existsSync(png)) throw new Error(`chromium wrote no screenshot (status ${r.status}): ${r.stderr.slice(-2000)}`);
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
