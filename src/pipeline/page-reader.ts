// The page reader lives with the inputs (src/vmcore/page-reader.ts); the pipeline's name
// for it stays, as the tests import it from here.
export { PageReader, READ_RUN_PAGES } from '../vmcore/page-reader';
