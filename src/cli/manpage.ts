// The man page, cyclodump.1, made from the same option table as --help (options.ts), so the
// two never disagree. Written at build time: node dist/src/cli/manpage.js FILE.
import * as fs from 'fs';
import * as path from 'path';
import { MEMORY_NOTE, OPTIONS, OptionDef, SUBCOMMANDS, USAGE_LINES, optionSynopsis } from './options';
import { VERSION } from './version';

/** Text for roff: backslashes, dashes and a leading dot or quote made literal. */
export function roff(text: string): string {
  const t = text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return t.replace(/^([.'])/gm, '\\&$1');
}

function optionEntry(o: OptionDef, note = ''): string[] {
  const names = [o.short ? `\\fB\\-${o.short}\\fR` : '', o.long ? `\\fB\\-\\-${roff(o.long)}\\fR` : ''].filter(Boolean).join(', ');
  return ['.TP', `${names}${o.arg ? ` \\fI${roff(o.arg)}\\fR` : ''}${note}`, roff(o.help)];
}

export function manPage(): string {
  const out: string[] = [
    `.TH CYCLODUMP 1 "" "cyclodump ${roff(VERSION)}" "User Commands"`,
    '.SH NAME',
    'cyclodump \\- multi\\-threaded, makedumpfile\\-compatible Linux kernel crash\\-dump engine',
    '.SH SYNOPSIS',
    '.nf',
    ...USAGE_LINES.map(roff),
    '.fi',
    '.SH DESCRIPTION',
    roff('cyclodump reads the memory of a crashed Linux kernel (/proc/vmcore in a kdump capture kernel, or any ELF vmcore), leaves out the pages the dump level says are not needed, using the kernel\'s own struct page array as described by VMCOREINFO, compresses the rest and writes the kdump-compressed format that crash, libkdumpfile and drgn read. It takes makedumpfile 1.7.2\'s command line and writes the same files; the work is spread over all CPUs and memory use does not grow with the size of the crashed machine.'),
    '.SH OPTIONS',
    roff('makedumpfile\'s options, with its meaning; options marked (cyclodump) are cyclodump\'s own.'),
  ];
  for (const o of OPTIONS) {
    if (o.status === 'unsupported') continue;
    out.push(...optionEntry(o, o.status === 'extension' ? ' (cyclodump)' : ''));
  }
  out.push('.SH COMMANDS', roff('cyclodump\'s own commands for operators.'));
  for (const c of SUBCOMMANDS) {
    out.push(`.SS ${roff(c.name)}`, '.nf', roff(c.synopsis), '.fi', '.PP', roff(c.help));
    for (const o of c.options) out.push(...optionEntry(o));
  }
  out.push('.SH REFUSED OPTIONS', roff('makedumpfile options that cyclodump cannot honour. They are refused with this reason and exit status 1, never ignored.'));
  for (const o of OPTIONS) {
    if (o.status !== 'unsupported') continue;
    out.push('.TP', `\\fB${roff(optionSynopsis(o))}\\fR`, roff(`${o.help} Refused: ${o.reason}.`));
  }
  out.push(
    '.SH PROGRESS AND LOGS',
    roff('With message level bit 1 (the default), one progress line for the whole run is written to standard error: percent done, MB/s read and written, elapsed time and an estimate of the time left. On a terminal it is redrawn in place; otherwise a plain line is written every 5 seconds, so that a serial console shows life. The percentage weighs the mem_map scan and the compress-and-write pass by their cost and reads 100% only once, on the last line of a run that did all its work; a run that stops shows where it stopped.'),
    '.PP',
    roff('Warnings, errors and phase timings are log lines on standard error: readable text, or one JSON object per line (pino) with --log-json, which also turns the progress line into JSON records. Warnings and errors follow message level bit 4, phase timings bit 16. When nothing has progressed for 30 seconds a warning says so.'),
    '.PP',
    roff('With --report-json FILE the page report is also written as JSON; its schema is schemas/report.schema.json in the package.'),
    '.SH ENVIRONMENT',
    '.TP', '.B CYCLODUMP_PROGRESS_MS', roff('Interval of the progress line in milliseconds (default 250 on a terminal, 5000 otherwise).'),
    '.TP', '.B CYCLODUMP_STALL_MS', roff('Time without progress after which a warning is written (default 30000).'),
    '.TP', '.B CYCLODUMP_DEBUG', roff('When set, an internal error also prints its stack.'),
    '.SH MEMORY',
    ...MEMORY_NOTE.map((l) => roff(l)),
    '.SH EXIT STATUS',
    roff('0: completed. 1: failed (a dump that could not be finished is marked incomplete in its header and kept). 2: the VMCOREINFO given with -i does not match the vmcore.'),
    '.SH SEE ALSO',
    '\\fBmakedumpfile\\fR(8), \\fBcrash\\fR(8), \\fBkdump\\fR(8)',
    '',
  );
  return out.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stdout.write(manPage());
  } else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, manPage());
  }
}
