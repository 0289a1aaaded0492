// The cgroup v2 device filter in the real kernel. This machine is cgroup v1 hybrid: the v1 devices controller
// (where this process's cgroup allows everything) plus a cgroup2 hierarchy at /sys/fs/cgroup/unified with no
// controllers. A BPF_PROG_TYPE_CGROUP_DEVICE program attaches to any cgroup2 directory all the same, and the kernel
// runs it for every device access of the processes inside, before the v1 check. So the tests make cgroups there
// (named after the run's prefix, tslabtest-...), attach filters, move a shell they spawned into them, and watch its
// opens and mknods succeed or fail with EPERM. Every cgroup and temp dir made here is removed; only processes
// spawned here are killed, by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { posix } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BPF_CGROUP_DEVICE,
  BPF_F_ALLOW_MULTI,
  BpfError,
  bpfCgroupDeviceSupported,
  bpfProgAttach,
  bpfProgDetach,
  bpfProgLoadCgroupDevice,
  bpfProgQuery,
} from '../../src/linux/bpf.js';
import { close, open, O_CLOEXEC, O_DIRECTORY, O_RDONLY } from '../../src/linux/fs.js';
import {
  detectCgroupMode,
  deviceFilterProgram,
  newCgroupManager,
  type CgroupLayout,
  type CgroupManager,
} from '../../src/runtime/cgroups/index.js';
import { runPrefix } from '../helpers/kernel-tests.js';

const PREFIX = runPrefix('devbpf');
let counter = 0;
const uniq = (what: string): string => `${PREFIX}-${what}-${++counter}`;

const isRoot = process.getuid?.() === 0;
const layout = detectCgroupMode();
const unified = layout.unified?.mountPoint;
const usable = isRoot && unified !== undefined && bpfCgroupDeviceSupported();

const children: ChildProcess[] = [];
const managers: CgroupManager[] = [];
const cgroupDirs: string[] = []; // made by a test itself
const tempDirs: string[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  const errors: unknown[] = [];
  for (const m of managers.splice(0)) {
    try {
      m.destroy({ kill: true });
    } catch (e) {
      errors.push(e);
    }
  }
  for (const d of cgroupDirs.splice(0).reverse()) {
    try {
      rmdirSync(d); // attached programs go with the cgroup
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') errors.push(e);
    }
  }
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  if (errors.length) throw errors[0];
});

interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` with sh in the cgroup2 directory `dir`: the shell waits for a line on stdin, so it does nothing
 * until it has been moved there.
 */
async function shellIn(dir: string, script: string): Promise<ShellResult> {
  const child = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`sh (pid ${child.pid}) did not exit within 10 s`)), 10_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
  writeFileSync(posix.join(dir, 'cgroup.procs'), String(child.pid));
  expect(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).toContain(`0::${dir.slice(unified!.length)}\n`);
  child.stdin!.end('go\n');
  const code = await exited;
  await new Promise((r) => setImmediate(r)); // let the last output arrive
  return { code, stdout, stderr };
}

function attachedDevicePrograms(dir: string): number[] {
  const fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  try {
    return bpfProgQuery(fd, BPF_CGROUP_DEVICE).progIds;
  } finally {
    close(fd);
  }
}

function makeCgroup(name: string): string {
  const dir = posix.join(unified!, name);
  mkdirSync(dir);
  cgroupDirs.push(dir);
  return dir;
}

describe.skipIf(!usable)('eBPF device filter on this kernel (cgroup2 at the unified hierarchy)', () => {
  it('a filter allowing only /dev/null (c 1:3 rwm): /dev/zero fails with EPERM, /dev/null works, mknod too', async () => {
    const dir = makeCgroup(uniq('null-only'));
    const program = deviceFilterProgram([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]);
    const progFd = bpfProgLoadCgroupDevice(program, 'MIT', 'tslab_test');
    const dirFd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      bpfProgAttach(dirFd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
    } finally {
      close(dirFd);
      close(progFd); // the attachment keeps the program
    }
    expect(attachedDevicePrograms(dir)).toHaveLength(1);

    const nodes = mkdtempSync(posix.join(tmpdir(), `${PREFIX}-nodes-`));
    tempDirs.push(nodes);
    const r = await shellIn(
      dir,
      'head -c 1 /dev/zero > /dev/null; echo "zero=$?"; ' +
        'echo hello > /dev/null; echo "null=$?"; ' +
        `mknod ${nodes}/null c 1 3; echo "mknod-null=$?"; ` +
        `mknod ${nodes}/zero c 1 5; echo "mknod-zero=$?"; ` +
        `echo hello > ${nodes}/null; echo "own-null=$?"`,
    );
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['zero=1', 'null=0', 'mknod-null=0', 'mknod-zero=1', 'own-null=0']);
    expect(r.stderr).toMatch(/\/dev\/zero.*Operation not permitted/);
    expect(r.stderr).toMatch(/mknod: .*zero.*Operation not permitted/);
    expect(r.code).toBe(0);
    expect(existsSync(posix.join(nodes, 'zero'))).toBe(false);

    // The same shell outside the cgroup (v1 devices cgroup "/", which allows everything) may read /dev/zero.
    const outside = spawn('sh', ['-c', 'head -c 1 /dev/zero > /dev/null; echo "zero=$?"'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(outside);
    let out = '';
    outside.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((res) => outside.once('close', res));
    expect(out.trim()).toBe('zero=0');
  });

  it('read-only rules: an open for writing is denied, for reading allowed; detaching lifts the filter', async () => {
    const dir = makeCgroup(uniq('ro'));
    const program = deviceFilterProgram([
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }, // /dev/zero read-only
    ]);
    const progFd = bpfProgLoadCgroupDevice(program, 'MIT');
    const dirFd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      bpfProgAttach(dirFd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
      const script = 'head -c 1 /dev/zero > /dev/null; echo "r=$?"; echo x > /dev/zero; echo "w=$?"; true 1<> /dev/zero; echo "rw=$?"';
      const r = await shellIn(dir, script);
      expect(r.stdout.split('\n').filter(Boolean)).toEqual(['r=0', 'w=2', 'rw=2']); // dash: a failed redirection is status 2
      expect(r.stderr).toMatch(/cannot create \/dev\/zero: Operation not permitted/);

      bpfProgDetach(dirFd, progFd, BPF_CGROUP_DEVICE);
      expect(attachedDevicePrograms(dir)).toEqual([]);
      const again = await shellIn(dir, script);
      expect(again.stdout.split('\n').filter(Boolean)).toEqual(['r=0', 'w=0', 'rw=0']);
    } finally {
      close(dirFd);
      close(progFd);
    }
  });

  it('the verifier\'s log comes with a rejected program', () => {
    const exitOnly = Buffer.from([0x95, 0, 0, 0, 0, 0, 0, 0]); // exit without setting r0
    let err: unknown;
    try {
      bpfProgLoadCgroupDevice(exitOnly, 'MIT');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).code).toBe('EACCES');
    expect((err as BpfError).verifierLog).toMatch(/R0 !read_ok/);
    expect((err as BpfError).message).toMatch(/^bpf\(BPF_PROG_LOAD\): EACCES — the kernel's verifier rejected the program:\n.*R0 !read_ok/s);
  });

  it('the manager on a (pretend) pure v2 hierarchy: default list enforced, a second apply replaces the filter', async () => {
    // The unified hierarchy treated as a pure v2 root, as in test/kernel/cgroups.test.ts.
    const v2: CgroupLayout = { mode: 'v2', v1: [], controllers: {}, unified: layout.unified! };
    const m = newCgroupManager({ id: 'x', cgroupsPath: `/${uniq('mgr')}/ctr`, layout: v2 });
    managers.push(m);
    m.create();
    const dir = m.paths['unified']!;

    m.apply({ devices: [{ allow: false, access: 'rwm' }] }); // runc's spec: deny all, then the default list
    const first = attachedDevicePrograms(dir);
    expect(first).toHaveLength(1);
    const script = 'head -c 1 /dev/zero > /dev/null; echo "zero=$?"; true < /dev/kmsg; echo "kmsg=$?"; true > /dev/null; echo "null=$?"';
    const r = await shellIn(dir, script);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['zero=0', 'kmsg=2', 'null=0']); // kmsg (c 1:11) is not listed
    expect(r.stderr).toMatch(/cannot open \/dev\/kmsg: Operation not permitted/);

    m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }] });
    const second = attachedDevicePrograms(dir);
    expect(second).toHaveLength(1); // replaced, not added
    expect(second[0]).not.toBe(first[0]);
    const r2 = await shellIn(dir, script);
    expect(r2.stdout.split('\n').filter(Boolean)).toEqual(['zero=0', 'kmsg=0', 'null=0']);

    m.destroy({ kill: true });
    expect(existsSync(dir)).toBe(false);
  });

  it.skipIf(layout.mode !== 'hybrid')('hybrid mode: the v1 devices controller enforces, nothing is attached to the cgroup2 dir', () => {
    const m = newCgroupManager({ id: uniq('hybrid') });
    managers.push(m);
    m.create();
    m.apply({ devices: [{ allow: false, access: 'rwm' }] });
    expect(attachedDevicePrograms(m.paths['unified']!)).toEqual([]);
    const devicesDir = m.paths[layout.controllers['devices']!.key]!;
    expect(readFileSync(posix.join(devicesDir, 'devices.list'), 'utf8')).toContain('c 1:3 rwm');
    m.destroy();
  });
});
