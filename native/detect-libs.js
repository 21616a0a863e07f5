#!/usr/bin/env node
// binding.gyp asks this which optional compression libraries the C compiler can build
// and link against here (a test program per library), so that the addon is built with the
// codecs this machine has instead of not at all:
//   node native/detect-libs.js --defines     HAVE_SNAPPY HAVE_ZSTD (those found)
//   node native/detect-libs.js --libraries   -lsnappy -lzstd (those found)
// Without one, that codec's pages go through its npm binding (src/codec/).
'use strict';
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');
const fs = require('fs');

const LIBS = [
  { define: 'HAVE_SNAPPY', lib: '-lsnappy', test: '#include <snappy-c.h>\nint main(void) { return snappy_max_compressed_length(4096) == 0; }\n' },
  { define: 'HAVE_ZSTD', lib: '-lzstd', test: '#include <zstd.h>\nint main(void) { return ZSTD_versionNumber() == 0; }\n' },
];

function builds(test, lib) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cyclodump-detect-'));
  try {
    const src = path.join(dir, 't.c');
    fs.writeFileSync(src, test);
    const cc = process.env.CC || 'cc';
    return spawnSync(cc, [src, '-o', path.join(dir, 't'), lib], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const found = LIBS.filter((l) => builds(l.test, l.lib));
const what = process.argv[2];
if (what === '--defines') process.stdout.write(found.map((l) => l.define).join(' '));
else if (what === '--libraries') process.stdout.write(found.map((l) => l.lib).join(' '));
else {
  process.stderr.write('usage: detect-libs.js --defines|--libraries\n');
  process.exit(2);
}
