import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES,
  CAP_LAST_CAP,
  CapabilityError,
  capabilityName,
  capabilityNumber,
  capsToMask,
  maskToCaps,
} from '../../src/runtime/process/capability-names.js';

describe('capability table', () => {
  it('numbers capabilities as the kernel does', () => {
    expect(CAPABILITIES.length).toBe(41);
    expect(CAP_LAST_CAP).toBe(40);
    expect(capabilityNumber('CAP_CHOWN')).toBe(0);
    expect(capabilityNumber('CAP_KILL')).toBe(5);
    expect(capabilityNumber('CAP_NET_BIND_SERVICE')).toBe(10);
    expect(capabilityNumber('CAP_SYS_ADMIN')).toBe(21);
    expect(capabilityNumber('CAP_AUDIT_WRITE')).toBe(29);
    expect(capabilityNumber('CAP_SETFCAP')).toBe(31);
    expect(capabilityNumber('CAP_MAC_OVERRIDE')).toBe(32);
    expect(capabilityNumber('CAP_BPF')).toBe(39);
    expect(capabilityNumber('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(capabilityName(21)).toBe('CAP_SYS_ADMIN');
    expect(capabilityName(63)).toBe('CAP_63');
    expect(new Set(CAPABILITIES).size).toBe(41);
  });

  it('refuses unknown names and suggests the right spelling', () => {
    expect(() => capabilityNumber('CAP_FLY')).toThrow(CapabilityError);
    expect(() => capabilityNumber('cap_kill')).toThrow(/did you mean CAP_KILL\?/);
    expect(() => capabilityNumber('KILL')).toThrow(/did you mean CAP_KILL\?/);
    expect(() => capabilityNumber('')).toThrow(CapabilityError);
  });
});

describe('masks', () => {
  it('sets one bit per capability', () => {
    expect(capsToMask([])).toBe(0n);
    expect(capsToMask(['CAP_CHOWN'])).toBe(1n);
    expect(capsToMask(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'])).toBe((1n << 29n) | (1n << 5n) | (1n << 10n));
    expect(capsToMask(['CAP_KILL', 'CAP_KILL'])).toBe(32n);
    expect(capsToMask([...CAPABILITIES])).toBe((1n << 41n) - 1n);
    expect(() => capsToMask(['CAP_KILL', 'CAP_NOPE'])).toThrow(/CAP_NOPE/);
  });

  it('turns a mask back into names, in number order', () => {
    expect(maskToCaps(capsToMask(['CAP_BPF', 'CAP_CHOWN']))).toEqual(['CAP_CHOWN', 'CAP_BPF']);
  });
});
