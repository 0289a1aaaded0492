// Filters built by libseccomp from linux.seccomp, up to (not including) the load, which would filter the
// test process itself: test/lifecycle/seccomp.test.ts loads them in containers.
import { describe, expect, it } from 'vitest';
import { resolveArch, resolveSyscall, seccompApiLevel } from '../../src/linux/seccomp.js';
import { RuntimeError } from '../../src/runtime/runtime-error.js';
import { prepareSeccomp } from '../../src/runtime/process/libseccomp-filter.js';
import { parseSpec } from '../../src/runtime/spec/load.js';
import { defaultSpec } from '../../src/runtime/spec/default-spec.js';
import type { Seccomp } from '../../src/runtime/spec/types.js';
import { PODMAN_PROFILE, UNKNOWN_NAMES, allowListProfile, engineProfile, nativeSyscallNames } from '../helpers/seccomp-profiles.js';

/** linux.seccomp as the runtime gets it: through config.json's reader. */
function read(seccomp: unknown): Seccomp {
  const c: any = defaultSpec({ terminal: false });
  c.linux.seccomp = seccomp;
  return parseSpec(JSON.stringify(c)).linux!.seccomp!;
}

function builds(seccomp: unknown): void {
  const filter = prepareSeccomp(read(seccomp));
  expect(filter).toBeDefined();
  filter!.release();
}

describe('libseccomp through koffi', () => {
  it('resolves names as runc does: unknown names are undefined, other architectures\' calls are pseudo-numbers', () => {
    expect(resolveSyscall('read')).toBe(0);
    expect(resolveSyscall('mkdir')).toBe(83);
    expect(resolveSyscall('_llseek')).toBeLessThan(-1);
    for (const name of UNKNOWN_NAMES) expect(resolveSyscall(name)).toBeUndefined();
    expect(resolveArch('x86_64')).toBe(0xc000003e);
    expect(resolveArch('x86')).toBe(0x40000003);
    expect(resolveArch('not-an-arch')).toBeUndefined();
    expect(seccompApiLevel()).toBeGreaterThanOrEqual(4);
  });

  it('the system-call table has the calls a shell needs', () => {
    const names = nativeSyscallNames();
    expect(names.length).toBeGreaterThan(300);
    expect(names).toEqual(expect.arrayContaining(['read', 'execve', 'clone', 'mkdir', 'personality']));
  });
});

describe('prepareSeccomp', () => {
  it('builds nothing when the config asks for nothing', () => {
    expect(prepareSeccomp(undefined)).toBeUndefined();
    expect(prepareSeccomp(read({}))).toBeUndefined();
  });

  it('builds podman\'s shape: default ERRNO(38), hundreds of names (some unknown), personality and clone argument rules, three architectures', () => {
    builds(allowListProfile());
  });

  it('builds every action, every operator and both flags', () => {
    builds({
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_KILL' },
        { names: ['rmdir'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['link'], action: 'SCMP_ACT_KILL_THREAD' },
        { names: ['unlink'], action: 'SCMP_ACT_TRAP' },
        { names: ['rename'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
        { names: ['chmod'], action: 'SCMP_ACT_LOG' },
        { names: ['chown'], action: 'SCMP_ACT_ERRNO', errnoRet: 4094 },
        ...[
          ['setpriority', 'SCMP_CMP_NE'],
          ['getpriority', 'SCMP_CMP_LT'],
          ['ioprio_set', 'SCMP_CMP_LE'],
          ['ioprio_get', 'SCMP_CMP_EQ'],
          ['sched_setscheduler', 'SCMP_CMP_GE'],
          ['sched_getscheduler', 'SCMP_CMP_GT'],
        ].map(([name, op], i) => ({ names: [name], action: 'SCMP_ACT_ERRNO', args: [{ index: i, value: 5, op }] })),
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xff, valueTwo: 16, op: 'SCMP_CMP_MASKED_EQ' }, { index: 2, value: 9, op: 'SCMP_CMP_GE' }] },
      ],
    });
  });

  it('builds podman\'s installed profile, turned into linux.seccomp as podman does', (ctx) => {
    const profile = engineProfile(PODMAN_PROFILE, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    if (!profile) ctx.skip(`${PODMAN_PROFILE} is not installed (Debian: golang-github-containers-common)`);
    builds(profile);
  });

  it('says which rule libseccomp refused', () => {
    // Two comparisons of one argument, both ways, in one call: libseccomp cannot make one rule of them.
    const conflicting = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['personality'], action: 'SCMP_ACT_KILL', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      ],
    };
    let error: unknown;
    try {
      prepareSeccomp(read(conflicting))?.release();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/^seccomp: adding the rule for personality: seccomp_rule_add: E[A-Z]+ — libseccomp refused the rule for personality: /);
  });
});
