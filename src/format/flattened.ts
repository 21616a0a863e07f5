// makedumpfile's flattened stream framing (-F / -R). All framing integers are
// big-endian whatever the dumped machine. Spec: flattened-and-split.md §1.
import { Struct } from './struct';

export const FLAT_SIGNATURE = 'makedumpfile';
export const TYPE_FLAT_HEADER = 1;
export const VERSION_FLAT_HEADER = 1;
/** the stream header occupies one whole 4096-byte block */
export const FLAT_HEADER_BLOCK = 4096;
export const END_FLAG_FLAT_HEADER = -1;

export const FlatHeader = new Struct('makedumpfile_header', 32, [
  { name: 'signature', type: 'bytes', offset: 0, size: 16 },
  { name: 'type', type: 'i64n', offset: 16 },
  { name: 'version', type: 'i64n', offset: 24 },
] as const, false);

export const FlatDataHeader = new Struct('makedumpfile_data_header', 16, [
  { name: 'offset', type: 'i64n', offset: 0 },
  { name: 'buf_size', type: 'i64n', offset: 8 },
] as const, false);
