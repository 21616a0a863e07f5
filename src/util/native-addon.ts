// The optional native addon (build/Release/pagecodec.node, built by node-gyp at install
// from native/): the page loop (codec/native-pages.ts) and the struct-page decision table
// (filter/native-scan.ts). Absent, or with CYCLODUMP_NO_NATIVE set, the JavaScript code
// does the same work more slowly.
import * as path from 'path';

let loaded: unknown;
let tried = false;

/** The addon's exports, or undefined when it is not built or turned off. */
export function nativeAddon(): unknown {
  if (!tried) {
    tried = true;
    if (!process.env.CYCLODUMP_NO_NATIVE) {
      try {
        // dist/src/util -> repository root
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        loaded = require(path.resolve(__dirname, '../../../build/Release/pagecodec.node'));
      } catch {
        loaded = undefined;
      }
    }
  }
  return loaded;
}
