// The architectures cyclodump reads dumps of, one record each (arch.ts), and the look-ups
// the layers above use: by ELF e_machine (ELF vmcores), by utsname machine (kdump files),
// by a translator's plain description (worker threads).
import type { PhysicalMemory } from '../vmcore/physical';
import type { Architecture } from './arch';
import { ARM64 } from './arm64';
import type { Translator, TranslatorDesc } from './page-walker';
import { X86_64 } from './x86_64';

export type { AddressingOptions, Architecture, KernelAddressing, KernelKeys } from './arch';
export type { Translation, Translator, TranslatorDesc, WalkStep } from './page-walker';

export const ARCHITECTURES: readonly Architecture[] = [X86_64, ARM64];

/** what messages say cyclodump reads */
export const SUPPORTED_ARCHITECTURES = ARCHITECTURES.map((a) => a.name).join(' and ');

export function architectureOfMachine(eMachine: number): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.eMachine === eMachine);
}

export function architectureOfUtsMachine(machine: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.utsMachine === machine);
}

/** The translator a worker thread rebuilds from the description it was handed. */
export function rebuildTranslator(mem: PhysicalMemory, desc: TranslatorDesc): Translator {
  const arch = ARCHITECTURES.find((a) => a.name === desc.arch);
  if (!arch) throw new Error(`no translator for architecture ${desc.arch}`);
  return arch.rebuild(mem, desc);
}
