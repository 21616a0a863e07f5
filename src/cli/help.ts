// --help text, from the option table (src/cli/options.ts), so help and man page agree.
import { MEMORY_NOTE, OPTIONS, SUBCOMMANDS, SubcommandDef, USAGE_LINES, optionSynopsis } from './options';

function wrap(text: string, width: number, indent: string): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(indent + line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(indent + line);
  return lines;
}

export function helpText(): string {
  const out: string[] = ['Usage:'];
  for (const u of USAGE_LINES) out.push(`  ${u}`);
  out.push('', 'Write a filtered, compressed dump of a crashed Linux kernel (makedumpfile 1.7.2 compatible).', '', 'Options:');
  for (const o of OPTIONS) {
    if (o.status === 'unsupported') continue;
    out.push(`  ${optionSynopsis(o)}${o.status === 'extension' ? '   (cyclodump)' : ''}`);
    out.push(...wrap(o.help, 72, '      '));
  }
  out.push('', 'Commands (cyclodump\'s own):');
  for (const c of SUBCOMMANDS) out.push(...subcommandHelp(c, '  '));
  const refused = OPTIONS.filter((o) => o.status === 'unsupported');
  out.push('', 'makedumpfile options cyclodump refuses (with a message, never silently):');
  for (const o of refused) out.push(`  ${optionSynopsis(o)}: ${o.reason}`);
  out.push('', ...MEMORY_NOTE, '', 'Exit status: 0 completed, 1 failed (a dump that could not be finished is marked', 'incomplete and kept), 2 VMCOREINFO given with -i does not match the vmcore.', '');
  return out.join('\n');
}

/** One command's part of --help (and `cyclodump COMMAND --help`). */
export function subcommandHelp(c: SubcommandDef, indent = ''): string[] {
  const out = [`${indent}${c.synopsis}`, ...wrap(c.help, 72, `${indent}    `)];
  for (const o of c.options) {
    out.push(`${indent}  ${optionSynopsis(o)}`);
    out.push(...wrap(o.help, 72, `${indent}      `));
  }
  return out;
}
