// The cgroup layer against this machine's kernel (root, cgroup v1 hybrid: controllers under /sys/fs/cgroup/<name>,
// cgroup2 at /sys/fs/cgroup/unified with no controllers). Every cgroup made here is named after the run's prefix
// (tslabtest-...) and removed again; only processes spawned here are killed, by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { posix } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CgroupError,
  detectCgroupMode,
  loadCgroupManager,
  managedHierarchies,
  newCgroupManager,
  ownCgroupIn,
  parseProcCgroup,
  type CgroupLayout,
  type CgroupManager,
} from '../../src/runtime/cgroups/index.js';
import { exited, runPrefix } from '../helpers/kernel-tests.js';

const PREFIX = runPrefix('cg');
let counter = 0;
const uniq = (what: string): string => `${PREFIX}-${what}-${++counter}`;

const isRoot = process.getuid?.() === 0;
const layout = detectCgroupMode();
const hasV1 = layout.mode !== 'v2';
const MiB = 1024 * 1024;

const managers: CgroupManager[] = [];
const children: ChildProcess[] = [];
const extraDirs: string[] = []; // made by a test itself, removed after the managers

function track(m: CgroupManager): CgroupManager {
  managers.push(m);
  return m;
}

function start(cmd: string, args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): ChildProcess {
  const child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

const procsOf = (dir: string): number[] =>
  readFileSync(posix.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
const read = (dir: string, file: string): string => readFileSync(posix.join(dir, file), 'utf8').trim();
const procState = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c).catch(() => undefined);
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
  for (const d of extraDirs.splice(0).reverse()) {
    try {
      rmdirSync(d);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
});

describe.skipIf(!isRoot)('cgroups on this kernel', () => {
  it('detects this machine', () => {
    expect(['v1', 'v2', 'hybrid']).toContain(layout.mode);
    if (layout.mode === 'hybrid') {
      expect(layout.unified?.mountPoint).toBe('/sys/fs/cgroup/unified');
      expect(layout.controllers['memory']?.mountPoint).toBe('/sys/fs/cgroup/memory');
      expect(layout.controllers['name=systemd']).toBeDefined();
    }
  });

  it('unset cgroupsPath: <own cgroup>/<id> in every hierarchy, unified included; destroy removes them', () => {
    const id = uniq('unset');
    const m = track(newCgroupManager({ id }));
    const own = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
    const expected: Record<string, string> = {};
    for (const h of managedHierarchies(layout)) {
      const base = h.kind === 'v2' && layout.mode === 'v2' ? posix.dirname(ownCgroupIn(own, h)!) : ownCgroupIn(own, h)!;
      expected[h.key] = posix.join(h.mountPoint, base, id);
    }
    expect(m.paths).toEqual(expected);
    if (layout.mode === 'hybrid') expect(Object.keys(m.paths)).toEqual(expect.arrayContaining(['memory', 'name=systemd', 'unified']));

    m.create();
    for (const dir of Object.values(m.paths)) expect(existsSync(dir)).toBe(true);
    expect(m.toJSON().created.sort()).toEqual(Object.values(m.paths).sort());
    m.destroy();
    for (const dir of Object.values(m.paths)) expect(existsSync(dir)).toBe(false);
  });

  it('absolute cgroupsPath: from each root; destroy removes exactly what it created (not a pre-existing parent)', () => {
    const parent = uniq('abs');
    const pre = posix.join(layout.mode === 'v2' ? layout.unified!.mountPoint : layout.controllers['memory']!.mountPoint, parent);
    mkdirSync(pre); // pre-existing in one hierarchy: not the manager's
    extraDirs.push(pre);

    const m = track(newCgroupManager({ id: 'ignored', cgroupsPath: `/${parent}/ctr` }));
    for (const h of managedHierarchies(layout)) expect(m.paths[h.key]).toBe(posix.join(h.mountPoint, parent, 'ctr'));
    m.create();
    const created = m.toJSON().created;
    expect(created).toContain(posix.join(pre, 'ctr'));
    expect(created).not.toContain(pre);

    // A later CLI invocation rebuilds the manager from its saved JSON and deletes.
    const later = loadCgroupManager(JSON.parse(JSON.stringify(m.toJSON())));
    later.destroy();
    for (const dir of created) expect(existsSync(dir)).toBe(false);
    expect(existsSync(pre)).toBe(true);
  });

  it.skipIf(!hasV1)('writes resources and reads them back (v1 files)', () => {
    const m = track(newCgroupManager({ id: uniq('res') }));
    m.create();
    m.apply({
      memory: { limit: 32 * MiB, swap: 64 * MiB, reservation: 16 * MiB },
      pids: { limit: 7 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      devices: [{ allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
    });
    const p = m.paths;
    const mem = p[layout.controllers['memory']!.key]!;
    expect(read(mem, 'memory.limit_in_bytes')).toBe(String(32 * MiB));
    if (existsSync(posix.join(mem, 'memory.memsw.limit_in_bytes'))) {
      expect(read(mem, 'memory.memsw.limit_in_bytes')).toBe(String(64 * MiB));
    }
    expect(read(mem, 'memory.soft_limit_in_bytes')).toBe(String(16 * MiB));
    expect(read(p[layout.controllers['pids']!.key]!, 'pids.max')).toBe('7');
    const cpu = p[layout.controllers['cpu']!.key]!;
    expect(read(cpu, 'cpu.shares')).toBe('512');
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('50000');
    expect(read(cpu, 'cpu.cfs_period_us')).toBe('100000');
    const cpuset = p[layout.controllers['cpuset']!.key]!;
    expect(read(cpuset, 'cpuset.cpus')).toBe('0');
    expect(read(cpuset, 'cpuset.mems')).toBe('0');
    const devices = read(p[layout.controllers['devices']!.key]!, 'devices.list').split('\n');
    expect(devices).not.toContain('a *:* rwm');
    expect(devices).toEqual(expect.arrayContaining(['c 1:3 rwm', 'c 1:5 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:229 rw']));

    // Raising both memory values later (an update) must order memsw before the limit.
    m.apply({ memory: { limit: 128 * MiB, swap: 256 * MiB } });
    expect(read(mem, 'memory.limit_in_bytes')).toBe(String(128 * MiB));
    // And lowering again: limit first.
    m.apply({ memory: { limit: 16 * MiB, swap: 16 * MiB } });
    expect(read(mem, 'memory.limit_in_bytes')).toBe(String(16 * MiB));
  });

  it.skipIf(!hasV1)('a failed write is a CgroupError naming the file, the value and the errno', () => {
    const m = track(newCgroupManager({ id: uniq('err') }));
    m.create();
    let err: CgroupError | undefined;
    try {
      m.apply({ cpu: { cpus: '99' } });
    } catch (e) {
      err = e as CgroupError;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect(err!.path).toBe(posix.join(m.paths[layout.controllers['cpuset']!.key]!, 'cpuset.cpus'));
    expect(err!.value).toBe('99');
    expect(err!.code).toBe('ERANGE'); // kernel 6.18: a CPU number beyond nr_cpu_ids is ERANGE, not EINVAL
    expect(err!.message).toMatch(/cannot write "99" to .*cpuset.cpus: ERANGE — .*CPU number this machine does not have/);
  });

  it('refuses the systemd driver syntax', () => {
    expect(() => newCgroupManager({ id: 'x', cgroupsPath: 'system.slice:tslab:x' })).toThrow(/systemd cgroup driver not supported/);
  });

  it('adds a real process to every hierarchy, lists it, freezes and thaws it, and kills it on destroy', async () => {
    const m = track(newCgroupManager({ id: uniq('proc') }));
    m.create();
    const child = start('sleep', ['60']);
    const pid = child.pid!;
    m.addProcess(pid);
    for (const dir of Object.values(m.paths)) expect(procsOf(dir)).toContain(pid);
    const inProc = parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    for (const h of managedHierarchies(layout)) {
      expect(posix.join(h.mountPoint, ownCgroupIn(inProc, h)!)).toBe(m.paths[h.key]);
    }
    expect(m.pids()).toEqual([pid]);

    m.freeze();
    expect(m.isFrozen()).toBe(true);
    if (hasV1) {
      expect(read(m.paths[layout.controllers['freezer']!.key]!, 'freezer.state')).toBe('FROZEN');
      expect(procState(pid)).toBe('D'); // v1-frozen tasks show D
    }
    m.thaw();
    expect(m.isFrozen()).toBe(false);
    for (let i = 0; i < 100 && procState(pid) !== 'S'; i++) await sleep(10); // back to its nanosleep
    expect(procState(pid)).toBe('S');

    // Frozen again, then a forced destroy: the kill must still get through (v1: thaw after signalling).
    m.freeze();
    m.destroy({ kill: true });
    expect(await exited(child)).toEqual({ code: null, signal: 'SIGKILL' });
    for (const dir of Object.values(m.paths)) expect(existsSync(dir)).toBe(false);
  });

  it.skipIf(!layout.unified)('cgroup v2 code paths on the cgroup2 hierarchy: placement, freeze, kill, removal', async () => {
    // Treat the unified hierarchy as a pure v2 root (on this hybrid machine it has no controllers).
    const v2: CgroupLayout = { mode: 'v2', v1: [], controllers: {}, unified: layout.unified! };
    const mount = layout.unified!.mountPoint;
    const parent = uniq('v2');
    const m = track(newCgroupManager({ id: 'x', cgroupsPath: `/${parent}/ctr`, layout: v2 }));
    expect(m.paths).toEqual({ unified: posix.join(mount, parent, 'ctr') });
    const dir = m.paths['unified']!;
    m.create();
    expect(m.toJSON().created).toEqual([posix.join(mount, parent), dir]);

    const child = start('sleep', ['60']);
    const pid = child.pid!;
    const before = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter((l) => !l.startsWith('0::'));
    m.addProcess(pid);
    expect(procsOf(dir)).toEqual([pid]);
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`0::/${parent}/ctr`);
    const after = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter((l) => !l.startsWith('0::'));
    expect(after).toEqual(before); // v1 memberships untouched
    expect(m.pids()).toEqual([pid]);
    expect(read(dir, 'cgroup.events')).toMatch(/^populated 1$/m);

    m.freeze();
    expect(m.isFrozen()).toBe(true);
    expect(read(dir, 'cgroup.freeze')).toBe('1');
    expect(read(dir, 'cgroup.events')).toMatch(/^frozen 1$/m);
    m.thaw();
    expect(m.isFrozen()).toBe(false);

    // No controller is available at this root: apply() must say so, and write nothing to the root.
    const rootSubtree = read(mount, 'cgroup.subtree_control');
    expect(() => m.apply({ pids: { limit: 5 } })).toThrow(/"pids" not available in \/sys\/fs\/cgroup\/unified/);
    // Device rules need no controller: an eBPF program goes on the cgroup (test/kernel/cgroups-device-filter.test.ts).
    m.apply({ devices: [{ allow: false, access: 'rwm' }] });
    expect(read(mount, 'cgroup.subtree_control')).toBe(rootSubtree);
    m.apply(undefined); // no file written; the device filter (default list) replaces the previous one

    m.freeze(); // cgroup.kill works on frozen tasks too
    m.destroy({ kill: true });
    expect(await exited(child)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(posix.join(mount, parent))).toBe(false);
  });

  it.skipIf(!hasV1)('pids.max=5 stops a shell from starting 20 sleeps', async () => {
    const m = track(newCgroupManager({ id: uniq('pids') }));
    m.create();
    m.apply({ pids: { limit: 5 } });
    // The shell waits for a line on stdin, so it forks only once it is in the cgroup.
    const sh = start('sh', ['-c', 'read x; i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done; echo done; wait'], 'pipe');
    let stderr = '';
    sh.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    m.addProcess(sh.pid!);
    sh.stdin!.write('go\n');
    // dash gives up at the first failed fork; give it a moment either way.
    await Promise.race([exited(sh).catch(() => undefined), sleep(3000)]);
    const pidsDir = m.paths[layout.controllers['pids']!.key]!;
    expect(Number(read(pidsDir, 'pids.current'))).toBeLessThanOrEqual(5);
    expect(Number(/^max (\d+)$/m.exec(read(pidsDir, 'pids.events'))![1])).toBeGreaterThan(0);
    expect(m.pids().length).toBeGreaterThan(0);
    expect(m.pids().length).toBeLessThanOrEqual(5);
    expect(stderr).toMatch(/fork/i);
    m.destroy({ kill: true }); // also the orphaned sleeps: they are in the cgroup
    expect(existsSync(pidsDir)).toBe(false);
  });

  it.skipIf(!hasV1)('memory limit 32 MiB: a process touching 64 MiB is OOM-killed', async () => {
    const m = track(newCgroupManager({ id: uniq('oom') }));
    m.create();
    m.apply({ memory: { limit: 32 * MiB, swap: 32 * MiB } }); // memory+swap = memory: no swapping out of it
    // dd reads 64 MiB from /dev/zero into one buffer: every page gets touched and charged.
    const sh = start('sh', ['-c', 'read x; exec dd if=/dev/zero of=/dev/null bs=64M count=1'], 'pipe');
    m.addProcess(sh.pid!);
    sh.stdin!.write('go\n');
    expect(await exited(sh)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(m.oomKillCount()).toBeGreaterThanOrEqual(1);
    m.destroy();
  });
});
