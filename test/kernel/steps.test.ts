// The kernel steps (src/runtime/steps/) against the real kernel. A step changes the process that calls it
// (its namespaces, root, capabilities), so each runs in a child Node process, under `unshare` where it needs
// a namespace of its own: test/helpers/steps-probe.ts, bundled here with esbuild. The test worker itself
// is never moved. joinCgroup and releaseInit change nothing of the caller and run here.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SyscallError } from '../../src/linux/error.js';
import { detectCgroupMode } from '../../src/runtime/cgroups/index.js';
import { joinCgroup } from '../../src/runtime/steps/cgroup-join.js';
import { releaseInit } from '../../src/runtime/steps/exec-fifo.js';
import { exited, runPrefix } from '../helpers/kernel-tests.js';
import { REPO_ROOT } from '../helpers/runtime.js';

const isRoot = process.getuid?.() === 0;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-steps-test-'));
const probe = path.join(work, 'steps-probe.cjs');
const children: ChildProcess[] = [];

beforeAll(() => {
  buildSync({
    entryPoints: [path.join(REPO_ROOT, 'test/helpers/steps-probe.ts')],
    outfile: probe,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['koffi'],
    // libc.ts loads koffi relative to itself: let it resolve from the repository's node_modules.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'src/linux/libc.ts')).href) },
    logLevel: 'warning',
  });
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c).catch(() => undefined);
    }
  }
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Runs one case of the probe (under `unshare` with `unshareArgs`, if any); returns its JSON answer. */
function probeCase(name: string, arg: string, unshareArgs: string[] = []): Record<string, any> {
  const [file, args] = unshareArgs.length
    ? ['unshare', [...unshareArgs, process.execPath, probe, name, arg]]
    : [process.execPath, [probe, name, arg]];
  return JSON.parse(execFileSync(file, args, { encoding: 'utf8', timeout: 15_000 }));
}

describe.skipIf(!isRoot)('kernel steps in a child process', () => {
  test('bringUpInterface: lo of a new network namespace goes from down to up; a missing interface is ENODEV', () => {
    const r = probeCase('loopback', '', ['--net']);
    expect(r.before & 0x1).toBe(0);
    expect(r.after & 0x1).toBe(0x1);
    expect(r.after & 0x8).toBe(0x8); // still IFF_LOOPBACK: the other flags were kept
    expect(r.missing).toEqual({
      code: 'ENODEV',
      message: 'ioctl(SIOCGIFFLAGS) tslabnosuch0: ENODEV — no network interface of that name in this network namespace',
    });
  });

  test('newUtsNamespace moves the caller to a new UTS namespace; setHostname names it there, the host keeps its own', () => {
    const host = fs.readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const r = probeCase('hostname', 'tslab-step-test', ['--uts']);
    expect(r.after).not.toBe(r.before);
    expect(r.hostname).toBe('tslab-step-test');
    expect(r.tooLong.code).toBe('EINVAL');
    expect(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8')).toBe(host);
  });

  test('spawnInNewPidNamespace: the child is PID 1, and the caller is back home afterwards, even when the spawn throws', () => {
    const r = probeCase('pid', '');
    expect(r.pidInside).toBe('1');
    expect(r.before.forChildren).toBe(r.before.pid);
    expect(r.after).toEqual(r.before);
    expect(r.thrown.message).toBe('spawn failed');
    expect(r.afterThrow).toEqual(r.before);
  });

  test('newMountNamespace moves the caller to a new mount namespace; makeMountsPrivate leaves no shared mount there; mountProc mounts a proc filesystem', () => {
    const target = fs.mkdtempSync(path.join(work, 'proc-'));
    const r = probeCase('mounts', target, ['--mount', '--propagation', 'shared']);
    expect(r.nsAfter).not.toBe(r.nsBefore);
    expect(r.sharedBefore).toBeGreaterThan(0);
    expect(r.sharedAfter).toBe(0);
    expect(r.procAt).toMatch(/ - proc proc /);
    expect(r.procAt).toMatch(/ rw,nosuid,nodev,noexec/);
    expect(r.seesSelf).toBe(true);
  });

  test('pivotInto: the rootfs becomes "/", the old root is gone', () => {
    const rootfs = fs.mkdtempSync(path.join(work, 'rootfs-'));
    fs.writeFileSync(path.join(rootfs, 'tslab-marker'), '');
    fs.mkdirSync(path.join(rootfs, 'etc'));
    const r = probeCase('pivot', rootfs, ['--mount']);
    expect(r).toEqual({ root: ['etc', 'tslab-marker'], cwd: '/', oldPathGone: true });
  });

  test('dropBoundingSet keeps only the given capabilities; setNoNewPrivs sets no_new_privs', () => {
    const r = probeCase('capabilities', '');
    expect(BigInt(`0x${r.capBnd}`)).toBe((1n << 0n) | (1n << 5n));
    expect(r.noNewPrivs).toBe('1');
  });
});

describe.skipIf(!isRoot)('kernel steps in this process', () => {
  test('joinCgroup moves a process into the cgroup; a missing cgroup is ENOENT', async () => {
    const layout = detectCgroupMode();
    const hierarchy = layout.controllers.pids?.mountPoint ?? layout.unified!.mountPoint;
    const dir = path.join(hierarchy, runPrefix('steps-join'));
    fs.mkdirSync(dir);
    const child = spawn('sleep', ['100'], { stdio: 'ignore' });
    children.push(child);
    try {
      joinCgroup(dir, child.pid!);
      const relative = `/${path.relative(hierarchy, dir)}`;
      expect(fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(`:${relative}`))).toBe(true);
      expect(() => joinCgroup(path.join(dir, 'no-such-child'), child.pid!)).toThrow(SyscallError);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
      fs.rmdirSync(dir);
    }
  });

  test('releaseInit reads the init\'s byte and removes the FIFO', async () => {
    const fifo = path.join(work, 'exec.fifo');
    execFileSync('mkfifo', [fifo]);
    // The writer's open blocks until releaseInit opens the read end, as the init's write does.
    const writer = spawn('sh', ['-c', 'printf 0 > "$1"', 'sh', fifo], { stdio: 'ignore' });
    children.push(writer);
    releaseInit(fifo, () => true);
    expect(fs.existsSync(fifo)).toBe(false);
    expect(await exited(writer)).toEqual({ code: 0, signal: null });
  });

  test('releaseInit gives up once the init is gone, and leaves the FIFO', () => {
    const fifo = path.join(work, 'dead.fifo');
    execFileSync('mkfifo', [fifo]);
    let checks = 0;
    expect(() => releaseInit(fifo, () => ++checks < 3)).toThrow('cannot start a container that has stopped');
    expect(checks).toBe(3);
    expect(fs.existsSync(fifo)).toBe(true);
    fs.rmSync(fifo);
  });
});
