// Where the tests find the repository, the shared fixtures and their git-ignored cache.
import * as path from 'path';

/** repository root (this file runs from dist/test/helpers) */
export const REPO = path.resolve(__dirname, '../../..');
export const SHARED = process.env.CYCLODUMP_SHARED ?? path.resolve(REPO, '../shared');
export const FIXTURES = path.join(SHARED, 'fixtures');
/** decompressed fixtures and scratch outputs; never in git */
export const CACHE = process.env.CYCLODUMP_CACHE ?? path.join(REPO, '.cache');
/** the command under test; CYCLODUMP_BIN runs the tests against another build (an older one, to see a test fail) */
export const BIN = process.env.CYCLODUMP_BIN ?? path.join(REPO, 'bin', 'cyclodump');
