// Small file-level checks the dump tests share: byte-identical files, a command run with
// files for stdin and stdout, the PT_LOADs of an ELF dump.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { Elf64Ehdr, Elf64Phdr, PT_LOAD } from '../../src/format/elf';

export function sameFile(a: string, b: string): boolean {
  return fs.readFileSync(a).equals(fs.readFileSync(b));
}

/** Runs `cmd args > stdoutFile` with stdin from a file, without a shell. */
export function withFiles(cmd: string, args: string[], stdinFile?: string, stdoutFile?: string): number {
  const r = spawnSync(cmd, args, {
    stdio: [stdinFile ? fs.openSync(stdinFile, 'r') : 'ignore', stdoutFile ? fs.openSync(stdoutFile, 'w') : 'ignore', 'pipe'],
  });
  return r.status ?? -1;
}

export function loadsOf(file: string): { paddr: number; filesz: number; memsz: number; offset: number }[] {
  const b = fs.readFileSync(file);
  const eh = Elf64Ehdr.decode(b);
  const out = [];
  for (let i = 0; i < eh.e_phnum; i++) {
    const p = Elf64Phdr.decode(b, eh.e_phoff + i * Elf64Phdr.size);
    if (p.p_type === PT_LOAD) out.push({ paddr: p.p_paddr, filesz: p.p_filesz, memsz: p.p_memsz, offset: p.p_offset });
  }
  return out;
}
