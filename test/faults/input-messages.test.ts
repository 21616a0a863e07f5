// Input-side messages of issue 20 row 11 and 14: `-i FILE` is read up to what a VMCOREINFO
// can be (never a whole /dev/zero), a FIFO that nobody writes leaves SIGTERM working, and
// the options cyclodump refuses say why even where makedumpfile finds the line invalid.
// (The VMCOREINFO values that are not numbers, keys given twice and the sub-header's
// size_note are files of the bad-input corpus.)
import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { errorLines } from '../helpers/faults';
import { builtinVmcore, scratchDir } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';
import { cyclodump } from '../helpers/tools';

describe('input messages: -i bounded, refused options with their reason', function () {
  this.timeout(60_000);
  let dir: string;
  let vmcore: string;

  before(function () {
    dir = scratchDir('input-messages');
    vmcore = builtinVmcore();
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('-i /dev/zero is refused in one line after reading 64 KiB, with no output file', function () {
    const out = path.join(dir, 'zero.out');
    const t0 = Date.now();
    const r = cyclodump(['-l', '-d', '31', '-i', '/dev/zero', vmcore, out]);
    expect(r.code).to.equal(1);
    expect(errorLines(r.stderr)).to.deep.equal(['cyclodump: the VMCOREINFO file /dev/zero holds more than 65536 bytes, more than any kernel\'s VMCOREINFO']);
    expect(Date.now() - t0).to.be.below(20_000);
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('-i of a VMCOREINFO of exactly 64 KiB is read (the bound is not one byte short)', function () {
    const vi = path.join(dir, 'vmcoreinfo');
    const text = spawnSync(process.execPath, ['-e', `
      const { openInput } = require(${JSON.stringify(path.resolve(__dirname, '../../src/vmcore/open.js'))});
      const i = openInput(${JSON.stringify(vmcore)}); process.stdout.write(i.vmcoreinfo.text); i.close();`]).stdout.toString('latin1');
    expect(text).to.match(/^OSRELEASE=/);
    // padded with lines no reader looks at, to the bound
    const pad = 64 * 1024 - text.length;
    fs.writeFileSync(vi, text + 'X'.repeat(pad - 1) + '\n', 'latin1');
    expect(fs.statSync(vi).size).to.equal(65536);
    const r = cyclodump(['-l', '-d', '31', '--dry-run', '-i', vi, vmcore, path.join(dir, 'ok.out')]);
    expect(r.code, r.stderr).to.equal(0);
    fs.appendFileSync(vi, '\n');
    const big = cyclodump(['-l', '-d', '31', '--dry-run', '-i', vi, vmcore, path.join(dir, 'ok.out')]);
    expect(big.code).to.equal(1);
    expect(big.stderr).to.contain('holds more than 65536 bytes');
  });

  it('-i naming a FIFO nobody writes: SIGTERM ends the run at once', async function () {
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
    const child = spawn(process.execPath, [BIN, '-l', '-d', '31', '-i', fifo, vmcore, path.join(dir, 'fifo.out')], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    child.kill('SIGTERM');
    const how = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    expect(Date.now() - t0).to.be.below(5000);
    expect(how.signal === 'SIGTERM' || how.code === 143, JSON.stringify(how)).to.equal(true);
    expect(fs.existsSync(path.join(dir, 'fifo.out'))).to.equal(false);
  });

  for (const [args, option] of [
    [['-g', 'VMCOREINFO'], '-g VMCOREINFO'],
    [['--config', 'filter.conf', '-d', '31', 'vmcore', 'dumpfile'], '--config FILE'],
  ] as const) {
    it(`${args.join(' ')}: refused with the reason, not only "Commandline parameter is invalid."`, function () {
      const r = cyclodump([...args]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(new RegExp(`^cyclodump: ${option} is not supported: \\S`));
      expect(r.stderr).to.not.contain('Commandline parameter is invalid');
    });
  }
});
