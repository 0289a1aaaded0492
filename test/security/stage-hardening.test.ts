// The PID-1 stage against hostile config.json and rootfs input (issue 8): a cwd through /proc/self/fd/N or a
// symlink out of the root, what a process joining a created container sees of PID 1, a device over an
// existing file, a failing tmpcopyup, an /etc/passwd that is a FIFO or /dev/zero (never read: no entry, as
// runc's masked passwd) or over the cap, a namespace path that is a FIFO, sysctl keys that name no file.
// Each case runs against tslab-runtime and, where runc 1.1.5 has the same duty, against runc too.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { setupSuite, type Bundle, type SpecJson } from '../helpers/bundle.js';
import { REPO_ROOT, describeResult, type RunResult, type RuntimeName } from '../helpers/runtime.js';
import { enterArgv, makeCanary, runCaptured } from './escape-helpers.js';

const s = setupSuite('stage-hardening');
const RUNTIMES: RuntimeName[] = ['tslab', 'runc'];
const created: Array<{ runtime: RuntimeName; id: string }> = [];

function argvOf(runtime: RuntimeName): string[] {
  return runtime === 'runc' ? ['runc'] : [path.join(REPO_ROOT, 'bin/tslab-runtime.cjs')];
}

/** `<runtime> --root <suite root> ARGS`, killed after `timeoutMs`; every id named is deleted after the test. */
function runtime(name: RuntimeName, args: string[], timeoutMs = 20_000): Promise<RunResult> {
  const id = args[args.length - 1];
  if (['run', 'create'].includes(args[0])) created.push({ runtime: name, id });
  return runCaptured([...argvOf(name), '--root', s.rt.root, ...args], path.join(s.dir, 'io'), { timeoutMs });
}

/** Whether `<suite root>/<id>` exists at all: with none, delete --force has nothing to act on (runc and tslab alike). */
function hasStateEntry(id: string): boolean {
  try {
    fs.lstatSync(path.join(s.rt.root, id));
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  for (const { runtime: name, id } of created.splice(0)) if (hasStateEntry(id)) await runtime(name, ['delete', '--force', id]);
});

async function bundle(mutate: (spec: SpecJson) => void): Promise<Bundle> {
  return s.bundle((spec) => {
    spec.process.env = (spec.process.env as string[]).filter((e) => !e.startsWith('HOME='));
    mutate(spec);
  });
}

function expectRefused(r: RunResult, message?: RegExp): void {
  expect(r.timedOut, describeResult(r)).toBe(false);
  expect(r.code, describeResult(r)).not.toBe(0);
  if (message) expect(r.stderr, describeResult(r)).toMatch(message);
}

describe.each(RUNTIMES)('%s', (name) => {
  test('cwd /proc/self/fd/N (N = 3..20) is refused and reaches nothing of the host', async () => {
    const canary = makeCanary(s.tmpDir('canary'));
    const b = await bundle((spec) => {
      spec.process.args = ['sh', '-c', `ls; cat ${'../'.repeat(12)}${canary.rel}`];
    });
    for (let n = 3; n <= 20; n++) {
      b.update((spec) => {
        spec.process.cwd = `/proc/self/fd/${n}`;
      });
      const r = await runtime(name, ['run', '--bundle', b.dir, `${s.prefix}-cwdfd-${name}-${n}`]);
      expectRefused(r, name === 'tslab' ? /process\.cwd .*\/proc\/self\/fd\/\d+.*magic link/ : undefined);
      expect(r.stdout + r.stderr).not.toContain(canary.content);
      expect(r.stdout).not.toContain('state.json');
    }
  });

  test('a cwd through a symlink out of the root stays inside the root', async () => {
    const canary = makeCanary(s.tmpDir('canary'));
    const b = await bundle((spec) => {
      spec.process.cwd = `/escape/${canary.relDir}`;
      spec.process.args = ['sh', '-c', 'pwd; cat canary; ls'];
    });
    fs.symlinkSync('../'.repeat(12), path.join(b.rootfs, 'escape'));
    const r = await runtime(name, ['run', '--bundle', b.dir, `${s.prefix}-cwdlink-${name}`]);
    expect(r.timedOut, describeResult(r)).toBe(false);
    expect(r.stdout + r.stderr, describeResult(r)).not.toContain(canary.content);
    // Made inside the root, as the kernel resolves the link after chroot.
    if (r.code === 0) expect(fs.existsSync(path.join(b.rootfs, canary.relDir))).toBe(true);
  });

  test('created: a process joining the namespaces reaches no host file through /proc/1/fd', async () => {
    const b = await bundle((spec) => {
      spec.process.args = ['true'];
    });
    const id = `${s.prefix}-created-${name}`;
    expect((await runtime(name, ['create', '--bundle', b.dir, id])).code).toBe(0);
    const state = JSON.parse((await runtime(name, ['state', id])).stdout) as { pid: number };
    const script = 'for f in /proc/1/fd/*; do echo "FD $f $(readlink $f || echo DENIED)"; cat $f/state.json 2>/dev/null && echo LEAK; done; echo DONE';
    const r = await runCaptured(enterArgv(state.pid, ['/bin/sh', '-c', script]), path.join(s.dir, 'io'));
    expect(r.stdout, describeResult(r)).toMatch(/^DONE$/m);
    expect(r.stdout, describeResult(r)).not.toMatch(/^LEAK/m);
    const fds = [...r.stdout.matchAll(/^FD \/proc\/1\/fd\/(\d+) (.*)$/gm)].filter(([, fd]) => Number(fd) >= 3);
    expect(fds.length, describeResult(r)).toBeGreaterThan(0);
    for (const [, fd, target] of fds) {
      // Only the exec FIFO may name a host path (runc's init keeps it too).
      if (target.startsWith('/')) expect(target, `fd ${fd}`).toMatch(/\/exec\.fifo$/);
      // tslab's stage is non-dumpable until exec (runc 1.1.5's init is not while created): no link is readable.
      if (name === 'tslab') expect(target, `fd ${fd}`).toBe('DENIED');
    }
  });

  test('a device at an existing path (linux.devices /bin/busybox) leaves the file alone', async () => {
    const b = await bundle((spec) => {
      spec.process.args = ['/bin/busybox', 'true'];
      spec.linux.devices = [{ path: '/bin/busybox', type: 'c', major: 1, minor: 3, fileMode: 0o666 }];
    });
    const before = fs.statSync(path.join(b.rootfs, 'bin/busybox'));
    const r = await runtime(name, ['run', '--bundle', b.dir, `${s.prefix}-dev-${name}`]);
    expect(r.code, describeResult(r)).toBe(0);
    const after = fs.statSync(path.join(b.rootfs, 'bin/busybox'));
    expect(after.isFile()).toBe(true);
    expect([after.ino, after.size, after.mode]).toEqual([before.ino, before.size, before.mode]);
  });
});

describe('tslab-runtime only', () => {
  function copyups(): string[] {
    return fs.readdirSync('/tmp').filter((e) => e.startsWith('tslab-copyup-'));
  }

  test('a failed tmpcopyup leaves nothing in /tmp and says what failed', async () => {
    const before = copyups();
    const b = await bundle((spec) => {
      spec.process.args = ['true'];
      // /bin holds busybox (~2 MB): it cannot fit a 16 KiB tmpfs.
      spec.mounts.push({ destination: '/bin', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'size=16k'] });
    });
    const r = await runtime('tslab', ['run', '--bundle', b.dir, `${s.prefix}-copyup`]);
    expectRefused(r, /tmpcopyup.*\/bin/);
    expect(copyups().filter((e) => !before.includes(e))).toEqual([]);
    expect(fs.statSync(path.join(b.rootfs, 'bin/busybox')).size).toBeGreaterThan(100_000);
  });

  for (const [what, make] of [
    ['a FIFO', (rootfs: string) => runMkfifo(path.join(rootfs, 'etc/passwd'))],
    ['a link to /dev/zero', (rootfs: string) => fs.symlinkSync('/dev/zero', path.join(rootfs, 'etc/passwd'))],
    ['a link through /proc/self/fd', (rootfs: string) => fs.symlinkSync('/proc/self/fd/0', path.join(rootfs, 'etc/passwd'))],
  ] as const) {
    test(`/etc/passwd as ${what}: never read, no entry (HOME=/), no hang`, async () => {
      const b = await bundle((spec) => {
        spec.process.args = ['sh', '-c', 'echo "HOME=$HOME"'];
      });
      fs.rmSync(path.join(b.rootfs, 'etc/passwd'));
      make(b.rootfs);
      const started = Date.now();
      const r = await runtime('tslab', ['run', '--bundle', b.dir, `${s.prefix}-passwd-${what.split(' ').pop()!.replace(/\W/g, '')}`], 15_000);
      expect(r.code, describeResult(r)).toBe(0);
      expect(r.stdout).toMatch(/^HOME=\/$/m);
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  }

  test('an /etc/passwd over the 4 MiB cap is refused, naming the file and the cap', async () => {
    const b = await bundle((spec) => {
      spec.process.args = ['true'];
    });
    fs.truncateSync(path.join(b.rootfs, 'etc/passwd'), (4 << 20) + 1);
    const r = await runtime('tslab', ['run', '--bundle', b.dir, `${s.prefix}-passwd-big`]);
    expectRefused(r, /\/etc\/passwd is 4194305 bytes, more than the 4194304/);
  });

  test('a sysctl key with an empty or ".." part never reaches /proc/sys', async () => {
    for (const key of ['net/ipv4//ip_forward', 'net.ipv4.conf.all/../../../kernel/hostname']) {
      const b = await bundle((spec) => {
        spec.process.args = ['true'];
        spec.linux.sysctl = { [key]: '1' };
      });
      const r = await runtime('tslab', ['run', '--bundle', b.dir, `${s.prefix}-sysctl-part`]);
      expectRefused(r, /is not a sysctl name|names no file under \/proc\/sys/);
    }
  });

  test('a namespace path that is a FIFO fails at once, naming the path', async () => {
    const fifo = path.join(s.tmpDir('ns'), 'not-a-namespace');
    runMkfifo(fifo);
    const b = await bundle((spec) => {
      spec.process.args = ['true'];
      spec.linux.namespaces = (spec.linux.namespaces as SpecJson[]).map((ns) => (ns.type === 'network' ? { type: 'network', path: fifo } : ns));
    });
    const r = await runtime('tslab', ['run', '--bundle', b.dir, `${s.prefix}-nsfifo`], 15_000);
    expectRefused(r, new RegExp(`${fifo.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*not a namespace`));
  });

  test('a sysctl the kernel refuses is named with its value', async () => {
    const b = await bundle((spec) => {
      spec.process.args = ['true'];
      spec.linux.sysctl = { 'net.ipv4.ip_forward': 'not-a-number' };
    });
    const r = await runtime('tslab', ['run', '--bundle', b.dir, `${s.prefix}-sysctl`]);
    expectRefused(r, /net\.ipv4\.ip_forward="not-a-number": write \/proc\/sys\/net\/ipv4\/ip_forward: EINVAL/);
  });

  test('a tmpfs over /proc is refused with a sentence, not ENOENT on cap_last_cap', async () => {
    const b = await bundle((spec) => {
      spec.process.args = ['true'];
      spec.mounts.push({ destination: '/proc', type: 'tmpfs', source: 'tmpfs' });
    });
    const r = await runtime('tslab', ['run', '--bundle', b.dir, `${s.prefix}-proctmpfs`]);
    expectRefused(r, /\/proc must be a proc filesystem/);
    expect(r.stderr).not.toMatch(/cap_last_cap/);
  });
});

function runMkfifo(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  execFileSync('mkfifo', [file]);
}
