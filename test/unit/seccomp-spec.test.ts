// linux.seccomp as config.json gives it: what is refused (with the field and a sentence) and the rules
// runc 1.1.5 would add. No filter is loaded here (that would filter the test process): see
// test/lifecycle/seccomp.test.ts for filters in containers, against runc and tslab-runtime.
import { describe, expect, it } from 'vitest';
import { SCMP_ACT_ALLOW, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_TRAP, SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, SCMP_CMP_NE, scmpActErrno, scmpActTrace } from '../../src/linux/seccomp.js';
import { defaultSpec } from '../../src/runtime/spec/default-spec.js';
import { SpecError } from '../../src/runtime/spec/spec-error.js';
import { parseSpec } from '../../src/runtime/spec/load.js';
import { seccompPlan } from '../../src/runtime/spec/seccomp-profile.js';
import type { Seccomp } from '../../src/runtime/spec/types.js';

/** config.json text with `seccomp` as linux.seccomp (written as given: numbers and all). */
function configWith(seccomp: unknown): string {
  const c: any = defaultSpec({ terminal: false });
  c.linux.seccomp = seccomp;
  return JSON.stringify(c);
}

function parsed(seccomp: unknown): Seccomp | undefined {
  return parseSpec(configWith(seccomp)).linux?.seccomp;
}

function refusal(seccomp: unknown): SpecError {
  try {
    parseSpec(configWith(seccomp));
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return e as SpecError;
  }
  throw new Error('parseSpec accepted the profile');
}

const allow = (names: string[], extra: object = {}) => ({ names, action: 'SCMP_ACT_ALLOW', ...extra });

describe('linux.seccomp: refused with the field and a sentence', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['an unknown default action', { defaultAction: 'SCMP_ACT_MAYBE' }, 'linux.seccomp.defaultAction', /"SCMP_ACT_MAYBE", which is not a valid action for seccomp: use one of SCMP_ACT_KILL,/],
    ['an empty default action with rules (runc: not a valid action)', { defaultAction: '', syscalls: [allow(['read'])] }, 'linux.seccomp.defaultAction', /not a valid action/],
    ['an unknown rule action', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [allow(['read']), { names: ['mkdir'], action: 'SCMP_ACT_DENY' }] }, 'linux.seccomp.syscalls[1].action', /"SCMP_ACT_DENY", which is not a valid action/],
    ['an action in lower case', { defaultAction: 'scmp_act_allow' }, 'linux.seccomp.defaultAction', /not a valid action/],
    ['SCMP_ACT_NOTIFY as the default action', { defaultAction: 'SCMP_ACT_NOTIFY' }, 'linux.seccomp.defaultAction', /does not support seccomp user notification/],
    ['SCMP_ACT_NOTIFY in a rule', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }, 'linux.seccomp.syscalls[0].action', /seccomp agent at listenerPath/],
    ['a listenerPath', { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }, 'linux.seccomp.listenerPath', /does not support seccomp user notification/],
    ['an unknown architecture', { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_RISCV64'] }, 'linux.seccomp.architectures[1]', /"SCMP_ARCH_RISCV64", which is not a valid arch for seccomp/],
    ['an unknown flag', { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_EVERYTHING'] }, 'linux.seccomp.flags[1]', /not a seccomp flag tslab knows/],
    ['an unknown operator', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_IS' }] }] }, 'linux.seccomp.syscalls[0].args[0].op', /"SCMP_CMP_IS", which is not a valid operator for seccomp/],
    ['argument index 6', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 8, op: 'SCMP_CMP_EQ' }] }] }, 'linux.seccomp.syscalls[0].args[0].index', /only have up to 6 arguments: index goes from 0 to 5/],
    ['errnoRet 4095 (libseccomp refuses MAX_ERRNO)', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 4095 }] }, 'linux.seccomp.syscalls[0].errnoRet', /an errno from 0 to 4094/],
    ['a huge defaultErrnoRet', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }, 'linux.seccomp.defaultErrnoRet', /an errno from 0 to 4094/],
    ['a TRACE message above 16 bits', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_TRACE', errnoRet: 65536 }] }, 'linux.seccomp.syscalls[0].errnoRet', /a tracer message from 0 to 65535/],
    ['an empty syscall name', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read', ''], action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names[1]', /is empty, which is not a valid syscall/],
    ['a name with a NUL (C would read "mkdir")', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir\u0000x'], action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names[0]', /not a system call name/],
    ['a negative index', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: -1, value: 0, op: 'SCMP_CMP_EQ' }] }] }, 'linux.seccomp.syscalls[0].args[0].index', /must be a whole number/],
    ['a value tslab cannot hold exactly', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2 ** 53 + 2, op: 'SCMP_CMP_EQ' }] }] }, 'linux.seccomp.syscalls[0].args[0].value', /beyond the largest whole number tslab handles exactly/],
    ['names that are not a list', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: 'mkdir', action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names', /must be a list/],
  ];
  for (const [name, seccomp, field, message] of cases) {
    it(name, () => {
      const e = refusal(seccomp);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
    });
  }

  it('bounds hostile list sizes: entries, names in all, comparisons, architectures, flags', () => {
    const many = Array.from({ length: 4097 }, () => allow(['read']));
    expect(refusal({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: many }).message).toMatch(/has 4097 entries; tslab takes at most 4096/);
    const names = Array.from({ length: 8193 }, (_, i) => `call${i}`);
    expect(refusal({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allow(names), allow(names)] }).field).toBe('linux.seccomp.syscalls[1].names');
    const args = Array.from({ length: 33 }, () => ({ index: 0, value: 0, op: 'SCMP_CMP_EQ' }));
    expect(refusal({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allow(['personality'], { args })] }).message).toMatch(/has 33 comparisons/);
    expect(refusal({ defaultAction: 'SCMP_ACT_ERRNO', architectures: Array(33).fill('SCMP_ARCH_X86') }).field).toBe('linux.seccomp.architectures');
    expect(refusal({ defaultAction: 'SCMP_ACT_ERRNO', flags: Array(9).fill('SECCOMP_FILTER_FLAG_LOG') }).field).toBe('linux.seccomp.flags');
    const long = 'x'.repeat(65);
    expect(refusal({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allow([long])] }).message).toMatch(/"x{64}"\.\.\., which is not a system call name/);
  });
});

describe('linux.seccomp: the filter runc would build', () => {
  it('no default action and no rules: no filter (as runc)', () => {
    expect(seccompPlan(parsed({})!)).toBeUndefined();
    expect(seccompPlan(parsed({ defaultAction: '', architectures: ['SCMP_ARCH_X86_64'] })!)).toBeUndefined();
    expect(parsed(null)).toBeUndefined();
  });

  it('maps every action runc 1.1.5 knows; ERRNO and TRACE default to EPERM, KILL is KILL_THREAD', () => {
    const actionOf = (action: string, errnoRet?: number) =>
      seccompPlan(parsed({ defaultAction: 'SCMP_ACT_LOG', syscalls: [{ names: ['mkdir'], action, ...(errnoRet === undefined ? {} : { errnoRet }) }] })!)!.rules[0].action;
    expect(actionOf('SCMP_ACT_KILL')).toBe(SCMP_ACT_KILL_THREAD);
    expect(actionOf('SCMP_ACT_KILL_THREAD')).toBe(SCMP_ACT_KILL_THREAD);
    expect(actionOf('SCMP_ACT_KILL_PROCESS')).toBe(SCMP_ACT_KILL_PROCESS);
    expect(actionOf('SCMP_ACT_TRAP')).toBe(SCMP_ACT_TRAP);
    expect(actionOf('SCMP_ACT_ERRNO')).toBe(scmpActErrno(1));
    expect(actionOf('SCMP_ACT_ERRNO', 13)).toBe(0x5000d);
    expect(actionOf('SCMP_ACT_ERRNO', 0)).toBe(0x50000);
    expect(actionOf('SCMP_ACT_TRACE')).toBe(scmpActTrace(1));
    expect(actionOf('SCMP_ACT_TRACE', 65535)).toBe(0x7ff0ffff);
    expect(actionOf('SCMP_ACT_ALLOW')).toBe(SCMP_ACT_ALLOW);
    expect(SCMP_ACT_LOG).toBe(0x7ffc0000);
  });

  it('defaultErrnoRet sets the default errno (podman: 38, ENOSYS) and is ignored by other actions, as runc ignores it', () => {
    expect(seccompPlan(parsed({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38 })!)!.defaultAction).toBe(scmpActErrno(38));
    expect(seccompPlan(parsed({ defaultAction: 'SCMP_ACT_ERRNO' })!)!.defaultAction).toBe(scmpActErrno(1));
    expect(seccompPlan(parsed({ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 38 })!)!.defaultAction).toBe(SCMP_ACT_ALLOW);
  });

  it('leaves out a rule whose action is the default action, errno and all', () => {
    const plan = seccompPlan(parsed({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [
        { names: ['kexec_load'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['bpf'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['chroot'], action: 'SCMP_ACT_ERRNO' },
      ],
    })!)!;
    expect(plan.rules.map((r) => r.name)).toEqual(['bpf', 'chroot']);
  });

  it('one rule per name; all comparisons must hold, but two on the same argument make a rule each (as runc)', () => {
    const plan = seccompPlan(parsed({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 16, op: 'SCMP_CMP_NE' }, { index: 2, value: 9, op: 'SCMP_CMP_EQ' }] },
        { names: ['personality', 'setns'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      ],
    })!)!;
    expect(plan.rules.map((r) => [r.name, r.args.map((a) => [a.arg, a.op, a.datumA])])).toEqual([
      ['socket', [[0, SCMP_CMP_NE, 16n], [2, SCMP_CMP_EQ, 9n]]],
      ['personality', [[0, SCMP_CMP_EQ, 0n]]],
      ['personality', [[0, SCMP_CMP_EQ, 8n]]],
      ['setns', [[0, SCMP_CMP_EQ, 0n]]],
      ['setns', [[0, SCMP_CMP_EQ, 8n]]],
    ]);
  });

  it('MASKED_EQ: value is the mask, valueTwo the value it must equal (docker\'s clone rule)', () => {
    const plan = seccompPlan(parsed({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }],
    })!)!;
    expect(plan.rules[0].args).toEqual([{ arg: 0, op: SCMP_CMP_MASKED_EQ, datumA: 2114060288n, datumB: 0n }]);
  });

  it('architectures by libseccomp\'s names; the LOG and SPEC_ALLOW flags; TSYNC accepted with nothing to do', () => {
    const plan = seccompPlan(parsed({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
    })!)!;
    expect(plan.architectures).toEqual(['x86_64', 'x86', 'x32', 'aarch64']);
    expect(plan.log).toBe(true);
    expect(plan.specAllow).toBe(true);
    const plain = seccompPlan(parsed({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'] })!)!;
    expect([plain.log, plain.specAllow]).toEqual([false, false]);
  });

  it('keeps unknown names in the plan: they are skipped only when libseccomp is asked', () => {
    const plan = seccompPlan(parsed({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'not_a_call_yet'], action: 'SCMP_ACT_ERRNO' }] })!)!;
    expect(plan.rules.map((r) => r.name)).toEqual(['mkdir', 'not_a_call_yet']);
  });
});
