// linux.seccomp in a running container, seen from busybox inside it: the configured errno, podman's shape
// (default ERRNO(38) with an allow list and argument rules), podman's installed profile, KILL, the filter
// not setting no_new_privs, and the profiles both runtimes refuse.
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { describeResult, runtimeName, type RunResult } from '../helpers/runtime.js';
import { PODMAN_PROFILE, allowListProfile, engineProfile } from '../helpers/seccomp-profiles.js';

const s = setupSuite('seccomp');

/** runc 1.1.5 refuses every seccomp flag ("seccomp flags are not yet supported by runc"); tslab applies them. */
const REFUSES_SECCOMP_FLAGS = runtimeName() === 'runc';

const SIGSYS = 31;

async function run(seccomp: unknown, script: string, mutate: (spec: SpecJson) => void = () => {}): Promise<RunResult> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sh', '-c', script];
    spec.linux.seccomp = seccomp;
    mutate(spec);
  });
  return s.runFg(b, s.id());
}

function output(r: RunResult): string {
  return r.stdout + r.stderr;
}

function expectRan(r: RunResult): void {
  expect(r.code, describeResult(r)).toBe(0);
}

describe('a denied system call', () => {
  test('returns errnoRet (EACCES), and EPERM when no errnoRet is given', async () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['rmdir'], action: 'SCMP_ACT_ERRNO' },
      ],
    };
    const r = await run(seccomp, 'mkdir /tmp/x; echo mkdir=$?; rmdir /tmp; echo rmdir=$?; ls -d /tmp/x; echo done');
    expectRan(r);
    expect(output(r)).toMatch(/mkdir: can't create directory '\/tmp\/x': Permission denied/);
    expect(output(r)).toMatch(/rmdir: '\/tmp': Operation not permitted/);
    expect(r.stdout).toContain('mkdir=1\nrmdir=1\n');
    expect(output(r)).toMatch(/ls: \/tmp\/x: No such file or directory/);
  });

  test('SCMP_ACT_KILL and SCMP_ACT_KILL_PROCESS end the process with SIGSYS', async () => {
    for (const action of ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS']) {
      const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action }] };
      const r = await run(seccomp, 'echo before; mkdir /tmp/x; echo status=$?');
      expectRan(r);
      expect(r.stdout, action).toBe(`before\nstatus=${128 + SIGSYS}\n`);
    }
    // As the container's own process: the runtime reports 128+SIGSYS.
    const b = await s.bundle((spec) => {
      spec.process.args = ['mkdir', '/tmp/x'];
      spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL' }] };
    });
    const r = await s.runFg(b, s.id());
    expect(r.code, describeResult(r)).toBe(128 + SIGSYS);
  });
});

describe('podman\'s shape: default SCMP_ACT_ERRNO(38), an allow list, argument rules', () => {
  const profile = allowListProfile({ deny: ['mkdir', 'mkdirat'] });
  const script = [
    'echo "$(echo forked)"', // clone through the MASKED_EQ rule
    'linux32 uname -m', // personality(PER_LINUX32) through its EQ rule
    'mkdir /tmp/d; echo mkdir=$?', // not listed: the default errno
    "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
  ].join('; ');

  test('runs a shell with the filter; an unlisted call fails with ENOSYS; names libseccomp does not know are skipped', async () => {
    const r = await run(profile, script, (spec) => {
      spec.process.noNewPrivileges = false;
    });
    expectRan(r);
    expect(r.stdout).toMatch(/^forked\ni686\nmkdir=1\nNoNewPrivs:\s+0\nSeccomp:\s+2\n$/);
    expect(r.stderr).toMatch(/mkdir: can't create directory '\/tmp\/d': Function not implemented/);
  });

  test('works for a non-root user without no_new_privs (loaded before the capabilities go) and with no_new_privs', async () => {
    for (const noNewPrivileges of [false, true]) {
      const r = await run(profile, script, (spec) => {
        spec.process.noNewPrivileges = noNewPrivileges;
        spec.process.user = { uid: 1000, gid: 1000 };
        spec.process.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
      });
      expectRan(r);
      expect(r.stdout).toMatch(new RegExp(`^forked\\ni686\\nmkdir=1\\nNoNewPrivs:\\s+${noNewPrivileges ? 1 : 0}\\nSeccomp:\\s+2\\n$`));
    }
  });
});

test('podman\'s installed profile, turned into linux.seccomp as podman does, runs busybox; chroot without CAP_SYS_CHROOT is EPERM', async (ctx) => {
  const b = await s.bundle();
  const caps: string[] = b.readSpec().process.capabilities.bounding;
  const profile = engineProfile(PODMAN_PROFILE, caps);
  if (!profile) ctx.skip(`${PODMAN_PROFILE} is not installed (Debian: golang-github-containers-common)`);
  expect(caps).not.toContain('CAP_SYS_CHROOT');
  b.update((spec) => {
    spec.process.args = ['sh', '-c', 'echo "$(echo forked)"; ls / >/dev/null && echo listed; mkdir /tmp/d && echo made; chroot / true; echo chroot=$?'];
    spec.process.noNewPrivileges = false;
    spec.root.readonly = false;
    spec.linux.seccomp = profile;
  });
  const r = await s.runFg(b, s.id());
  expectRan(r);
  expect(r.stdout).toBe('forked\nlisted\nmade\nchroot=1\n');
  expect(r.stderr).toMatch(/chroot: can't change root directory to '\/': Operation not permitted/);
});

describe('profiles both runtimes refuse, with a sentence', () => {
  const cases: Array<[string, object, RegExp]> = [
    ['an unknown action', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_FOO' }] }, /SCMP_ACT_FOO\b.* is not a valid action for seccomp/],
    ['an unknown default action', { defaultAction: 'SCMP_ACT_FOO' }, /SCMP_ACT_FOO\b.* is not a valid action for seccomp/],
    ['an unknown architecture', { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_RISCV64'] }, /SCMP_ARCH_RISCV64\b.* is not a valid arch for seccomp/],
    ['an unknown operator', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_IS' }] }] }, /SCMP_CMP_IS\b.* is not a valid operator for seccomp/],
    ['argument index 6', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] }, /syscalls only have up to 6 arguments/],
  ];
  for (const [name, seccomp, message] of cases) {
    test(name, async () => {
      const r = await run(seccomp, 'echo ran');
      expect(r.code, describeResult(r)).not.toBe(0);
      expect(r.stdout).not.toContain('ran');
      expect(r.stderr).toMatch(message);
    });
  }
});

test('an x86-64 filter with its 32-bit architectures listed, and with none listed', async () => {
  for (const architectures of [['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], []]) {
    const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures, syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 18 }] };
    const r = await run(seccomp, 'mkdir /tmp/x');
    expect(r.code, describeResult(r)).toBe(1);
    expect(r.stderr).toMatch(/Invalid cross-device link/);
  }
});

test(`seccomp flags: ${REFUSES_SECCOMP_FLAGS ? 'runc 1.1.5 refuses them' : 'LOG, SPEC_ALLOW and TSYNC are applied'}`, async () => {
  const seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
  };
  const r = await run(seccomp, 'mkdir /tmp/x; echo status=$?');
  if (REFUSES_SECCOMP_FLAGS) {
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr).toMatch(/seccomp flags are not yet supported by runc/);
  } else {
    expectRan(r);
    expect(r.stdout).toBe('status=1\n');
  }
});
