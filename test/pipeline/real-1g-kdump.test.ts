// Issue 2 acceptance on a real vmcore: for every dump level and codec, cyclodump's
// kdump-compressed output has makedumpfile 1.7.2's bitmaps and descriptor count, the same
// report, and every page it stores equals the vmcore's. makedumpfile runs live; its figures
// are also checked against the ones recorded in the fixture's reference.json.
import * as fs from 'fs';
import { fixtureVmcore, reference, scratchDir } from '../helpers/fixtures';
import { describeLevelCodecMatrix } from '../helpers/kdump-matrix';
import { makedumpfile } from '../helpers/tools';

describe('real-1g (Linux 6.1): kdump-compressed output against makedumpfile 1.7.2', function () {
  let vmcore: string;
  let dir: string;

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('real-1g-kdump');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describeLevelCodecMatrix({
    vmcore: () => vmcore, dir: () => dir, makedumpfile, recorded: () => reference('real-1g').modes,
  });
});
