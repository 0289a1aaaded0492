import { describe, expect, it } from 'vitest';
import { MAX_SIGNAL, SIGNAL_NAMES, SignalError, parseSignal, signalName } from '../../src/runtime/process/signals.js';

describe('parseSignal', () => {
  it('reads names with and without SIG, in any case (runc upper-cases them)', () => {
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGKILL')).toBe(9);
    expect(parseSignal('kill')).toBe(9);
    expect(parseSignal('sigterm')).toBe(15);
    expect(parseSignal('Hup')).toBe(1);
    expect(parseSignal('SIGUSR1')).toBe(10);
    expect(parseSignal('USR2')).toBe(12);
    expect(parseSignal('SIGCHLD')).toBe(17);
    expect(parseSignal('STOP')).toBe(19);
    expect(parseSignal('WINCH')).toBe(28);
    expect(parseSignal('SIGSYS')).toBe(31);
  });

  it('reads numbers like Go strconv.Atoi, 0 to 64', () => {
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal('0')).toBe(0);
    expect(parseSignal('64')).toBe(64);
    expect(parseSignal('+15')).toBe(15);
    expect(parseSignal('009')).toBe(9);
  });

  it('reads real-time signals', () => {
    expect(parseSignal('RTMIN')).toBe(34);
    expect(parseSignal('SIGRTMIN+1')).toBe(35);
    expect(parseSignal('rtmin+30')).toBe(64);
    expect(parseSignal('RTMAX')).toBe(64);
    expect(parseSignal('SIGRTMAX-2')).toBe(62);
  });

  it('refuses what runc refuses', () => {
    for (const bad of ['', 'FOO', 'SIGFOO', 'SIG', 'SIGIOT', 'POLL', '9x', ' 9', 'KILL ', '1.5']) {
      expect(() => parseSignal(bad), bad).toThrow(SignalError);
    }
    expect(() => parseSignal('FOO')).toThrow(/^unknown signal "FOO": /);
  });

  it('refuses numbers the kernel does not have', () => {
    expect(() => parseSignal('65')).toThrow(/0 to 64/);
    expect(() => parseSignal('-9')).toThrow(SignalError);
    expect(() => parseSignal('RTMIN+31')).toThrow(/RTMIN = 34/);
    expect(() => parseSignal('RTMAX+1')).toThrow(SignalError);
    expect(() => parseSignal('RTMIN-1')).toThrow(SignalError);
  });

  it('tells which text failed', () => {
    try {
      parseSignal('BOOM');
      expect.unreachable();
    } catch (e) {
      expect((e as SignalError).signal).toBe('BOOM');
      expect((e as SignalError).name).toBe('SignalError');
    }
  });
});

describe('signal names', () => {
  it('names every signal 1..64', () => {
    expect(SIGNAL_NAMES.size).toBe(MAX_SIGNAL);
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(32)).toBe('SIG32');
    expect(signalName(34)).toBe('SIGRTMIN');
    expect(signalName(35)).toBe('SIGRTMIN+1');
    expect(signalName(49)).toBe('SIGRTMIN+15');
    expect(signalName(50)).toBe('SIGRTMAX-14');
    expect(signalName(64)).toBe('SIGRTMAX');
    expect(signalName(99)).toBe('SIG99');
  });

  it('round-trips every name', () => {
    for (const [num, name] of SIGNAL_NAMES) {
      if (num === 32 || num === 33) continue;
      expect(parseSignal(name)).toBe(num);
    }
  });
});
