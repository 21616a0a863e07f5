// What the compiled launcher (native/launcher.c) runs with node, once it has checked the
// limits: the same as the JavaScript part of bin/cyclodump.
'use strict';
require('../dist/src/cli/launch.js').loadCli().main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
