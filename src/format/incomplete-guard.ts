// Files rebuilt from other dumps (-R from a flattened stream, --reassemble from split
// parts) copy a header that says "complete". Copied as it comes, a run killed half way
// would leave a file that claims to be whole. The guard sets the incomplete flag in every
// header write it sees (kdump status 0x08, ELF e_flags bit 0) and gives back, at the end,
// the word as the source had it: written last, after the data is synced.
import { DUMP_DH_COMPRESSED_INCOMPLETE, DiskDumpHeader, isKdumpSignature } from './diskdump';
import { ELF_FLAG_INCOMPLETE, ELF_MAGIC, Elf64Ehdr } from './elf';

/** bytes of the file start kept: the kdump main header and the ELF header lie in them */
const WATCHED = 512;

export class IncompleteGuard {
  private readonly head = Buffer.alloc(WATCHED);
  /** whether the flag word on disk is the flagged one */
  private flaggedOnDisk = false;

  /** where the flag word is and its bit, once the file's signature is known */
  private flagWord(): { at: number; bit: number } | undefined {
    if (isKdumpSignature(this.head)) return { at: DiskDumpHeader.offsets.status, bit: DUMP_DH_COMPRESSED_INCOMPLETE };
    // ELF64 (class 2), little-endian (data 1): the ELF dumps this tool writes
    if (this.head.subarray(0, 4).equals(ELF_MAGIC) && this.head[4] === 2 && this.head[5] === 1) {
      return { at: Elf64Ehdr.offsets.e_flags, bit: ELF_FLAG_INCOMPLETE };
    }
    return undefined;
  }

  /**
   * The bytes to write for `data` at `offset`: with the flag set where they hold the flag
   * word, and, where they only complete the signature, the flagged word to write after them.
   */
  pass(data: Buffer, offset: number): { data: Buffer; flag?: Buffer; flagAt: number } {
    if (offset >= WATCHED) return { data, flagAt: 0 };
    const n = Math.min(data.length, WATCHED - offset);
    data.copy(this.head, offset, 0, n);
    const w = this.flagWord();
    if (!w) return { data, flagAt: 0 };
    const flagged = (this.head.readUInt32LE(w.at) | w.bit) >>> 0;
    if (offset <= w.at && offset + data.length >= w.at + 4) {
      const copy = Buffer.from(data);
      copy.writeUInt32LE(flagged, w.at - offset);
      this.flaggedOnDisk = true;
      return { data: copy, flagAt: 0 };
    }
    const overlaps = offset < w.at + 4 && offset + data.length > w.at;
    if (this.flaggedOnDisk && !overlaps) return { data, flagAt: 0 };
    this.flaggedOnDisk = true;
    const flag = Buffer.alloc(4);
    flag.writeUInt32LE(flagged, 0);
    return { data, flag, flagAt: w.at };
  }

  /** The flag word as the source has it (the file's last write), or undefined when no header was seen. */
  finalWord(): { bytes: Buffer; at: number } | undefined {
    const w = this.flagWord();
    if (!w || !this.flaggedOnDisk) return undefined;
    return { bytes: Buffer.from(this.head.subarray(w.at, w.at + 4)), at: w.at };
  }
}
