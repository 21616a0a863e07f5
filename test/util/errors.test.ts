// One-line errors and messages (src/util): what a user sees of bad input must be printable
// and short, a full disk must be told from other failures, and each message kind goes to
// its stream only at the --message-level bits makedumpfile uses for it.
import { expect } from 'chai';
import { DumpError, EXIT_FAILED, NoSpaceError, isNoSpace, printable } from '../../src/util/errors';
import { Messages, ML_PRINT_COMMON_MSG, ML_PRINT_DEBUG_MSG, ML_PRINT_REPORT_MSG } from '../../src/util/messages';

function sink(): { write(s: string): boolean; text: string } {
  return { text: '', write(s: string) { this.text += s; return true; } };
}

describe('util: errors and messages', function () {
  it('printable: control and non-ASCII characters escaped, long text cut', function () {
    expect(printable('ok\n\x00\x7f\u00e9')).to.equal('ok\\x0a\\x00\\x7f\\xe9');
    expect(printable('a'.repeat(200), 10)).to.equal(`${'a'.repeat(10)}...`);
  });

  it('a full disk is told from other failures', function () {
    expect(isNoSpace(Object.assign(new Error('x'), { code: 'ENOSPC' }))).to.equal(true);
    expect(isNoSpace(Object.assign(new Error('x'), { code: 'EDQUOT' }))).to.equal(true);
    expect(isNoSpace(Object.assign(new Error('x'), { code: 'EIO' }))).to.equal(false);
    expect(isNoSpace(new NoSpaceError('out of room'))).to.equal(true);
    const e = new DumpError('not-elf', 'x is not an ELF file');
    expect([e.code, e.exitCode, e.message]).to.deep.equal(['not-elf', EXIT_FAILED, 'x is not an ELF file']);
  });

  it('each kind of message goes to its stream at its --message-level bit only', function () {
    for (const level of [0, ML_PRINT_COMMON_MSG, ML_PRINT_DEBUG_MSG | ML_PRINT_REPORT_MSG, 31]) {
      const out = sink();
      const err = sink();
      const m = new Messages(level, out, err);
      m.msg('common');
      m.debug('debug');
      m.report('report');
      const want = [level & ML_PRINT_COMMON_MSG ? 'common\n' : '', level & ML_PRINT_DEBUG_MSG ? 'debug\n' : '',
        level & ML_PRINT_REPORT_MSG ? 'report\n' : ''].join('');
      expect(out.text, `level ${level}`).to.equal(want);
      expect(err.text).to.equal('');
    }
  });
});
