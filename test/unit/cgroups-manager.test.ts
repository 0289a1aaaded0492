// The manager's logic against an in-memory fake cgroup filesystem: what it creates, writes (and in which order),
// enables in cgroup.subtree_control, and removes. The real kernel behaviour is in test/kernel/cgroups.test.ts;
// this file covers what this machine cannot show (pure cgroup v2 controllers) and the error paths.
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CgroupError,
  deviceFilterProgram,
  detectCgroupMode,
  effectiveDeviceRules,
  loadCgroupManager,
  newCgroupManager,
  type CgroupFs,
  type DeviceFilterInstaller,
} from '../../src/runtime/cgroups/index.js';

function fsError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

const V2_CONTROLLER_FILES: Record<string, string[]> = {
  memory: ['memory.max', 'memory.low', 'memory.events'],
  pids: ['pids.max'],
  cpu: ['cpu.weight', 'cpu.max'],
  cpuset: ['cpuset.cpus', 'cpuset.mems'],
};

/** A small imitation of cgroupfs: directories with control files that must exist to be written. */
class FakeCgroupFs implements CgroupFs {
  dirs = new Set<string>();
  files = new Map<string, string>();
  writes: Array<[string, string]> = [];
  mkdirs: string[] = [];
  rmdirs: string[] = [];
  /** path -> error code thrown by the next write(s) to it. */
  failWrites = new Map<string, string[]>();
  busy = new Set<string>();

  constructor(private readonly populate: (fs: FakeCgroupFs, dir: string) => void) {}

  root(dir: string, files: Record<string, string> = {}): void {
    this.dirs.add(dir);
    for (const [f, v] of Object.entries(files)) this.files.set(posix.join(dir, f), v);
  }

  readFile(path: string): string {
    const v = this.files.get(path);
    if (v === undefined) throw fsError('ENOENT');
    return v;
  }

  writeFile(path: string, value: string): void {
    const queued = this.failWrites.get(path);
    if (queued && queued.length > 0) throw fsError(queued.shift()!);
    if (!this.files.has(path)) throw fsError('ENOENT');
    this.writes.push([path, value]);
    if (posix.basename(path) === 'cgroup.subtree_control') {
      const dir = posix.dirname(path);
      const have = new Set(this.files.get(path)!.split(' ').filter(Boolean));
      const avail = this.files.get(posix.join(dir, 'cgroup.controllers'))!.split(' ');
      for (const tok of value.split(' ')) {
        const c = tok.slice(1);
        if (!avail.includes(c)) throw fsError('EINVAL');
        have.add(c);
        for (const child of this.children(dir)) this.addControllerFiles(child, c);
      }
      this.files.set(path, [...have].join(' '));
      return;
    }
    this.files.set(path, value);
  }

  addControllerFiles(dir: string, c: string): void {
    for (const f of V2_CONTROLLER_FILES[c] ?? []) if (!this.files.has(posix.join(dir, f))) this.files.set(posix.join(dir, f), '');
    const ctl = posix.join(dir, 'cgroup.controllers');
    const list = new Set((this.files.get(ctl) ?? '').split(' ').filter(Boolean));
    list.add(c);
    this.files.set(ctl, [...list].join(' '));
  }

  exists(path: string): boolean {
    return this.dirs.has(path) || this.files.has(path);
  }

  mkdir(path: string): void {
    if (this.exists(path)) throw fsError('EEXIST');
    if (!this.dirs.has(posix.dirname(path))) throw fsError('ENOENT');
    this.dirs.add(path);
    this.mkdirs.push(path);
    this.populate(this, path);
  }

  rmdir(path: string): void {
    if (!this.dirs.has(path)) throw fsError('ENOENT');
    if (this.children(path).length > 0 || this.busy.has(path)) throw fsError('EBUSY');
    this.dirs.delete(path);
    for (const f of [...this.files.keys()]) if (posix.dirname(f) === path) this.files.delete(f);
    this.rmdirs.push(path);
  }

  children(dir: string): string[] {
    return [...this.dirs].filter((d) => posix.dirname(d) === dir && d !== dir);
  }

  listDirs(path: string): string[] {
    if (!this.dirs.has(path)) throw fsError('ENOENT');
    return this.children(path).map((d) => posix.basename(d));
  }

  /** Device filters "attached" (pure v2): the program per directory, the last one replacing the previous. */
  filters = new Map<string, Buffer>();
  /** Error code thrown by the next install, if any. */
  failInstall: string | undefined;

  /** A device filter installer on this fake: each install is also logged in `writes`, to show the order. */
  readonly deviceFilter: DeviceFilterInstaller = {
    install: (dir, program) => {
      if (this.failInstall) throw Object.assign(new Error(`bpf(BPF_PROG_ATTACH): ${this.failInstall}`), { code: this.failInstall });
      if (!this.dirs.has(dir)) throw fsError('ENOENT');
      this.filters.set(dir, program);
      this.writes.push([dir, DEVICE_FILTER]);
    },
  };
}

const DEVICE_FILTER = '<eBPF device filter>';

// ---- pure cgroup v2 ------------------------------------------------------------------------------------------------

const V2_LAYOUT = detectCgroupMode('29 24 0:26 / /cg rw - cgroup2 cgroup2 rw\n');

function v2Fs(rootSubtree = ''): FakeCgroupFs {
  const fake = new FakeCgroupFs((f, dir) => {
    const parentSubtree = f.files.get(posix.join(posix.dirname(dir), 'cgroup.subtree_control'))!;
    for (const file of ['cgroup.procs', 'cgroup.subtree_control', 'cgroup.freeze', 'cgroup.kill']) f.files.set(posix.join(dir, file), '');
    f.files.set(posix.join(dir, 'cgroup.controllers'), '');
    f.files.set(posix.join(dir, 'cgroup.events'), 'populated 0\nfrozen 0\n');
    for (const c of parentSubtree.split(' ').filter(Boolean)) f.addControllerFiles(dir, c);
  });
  fake.root('/cg', {
    'cgroup.controllers': 'cpuset cpu memory pids',
    'cgroup.subtree_control': rootSubtree,
    'cgroup.procs': '1\n',
  });
  return fake;
}

describe('cgroup v2 manager (fake fs)', () => {
  it('creates missing parents, enables controllers top-down (first pre-existing parent included), writes values', () => {
    const fake = v2Fs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/tslab/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    expect(m.paths).toEqual({ unified: '/cg/tslab/c1' });
    m.create();
    expect(fake.mkdirs).toEqual(['/cg/tslab', '/cg/tslab/c1']);
    m.apply({ memory: { limit: 33554432 }, pids: { limit: 5 }, cpu: { shares: 1024 } });
    expect(fake.writes).toEqual([
      ['/cg/cgroup.subtree_control', '+memory +cpu +pids'],
      ['/cg/tslab/cgroup.subtree_control', '+memory +cpu +pids'],
      ['/cg/tslab/c1/memory.max', '33554432'],
      ['/cg/tslab/c1/cpu.weight', '39'],
      ['/cg/tslab/c1/pids.max', '5'],
      ['/cg/tslab/c1', DEVICE_FILTER], // no device rules given: still "deny all but the default list"
    ]);
    expect(fake.filters.get('/cg/tslab/c1')).toEqual(deviceFilterProgram(effectiveDeviceRules([])));
    expect(m.toJSON().enabled).toEqual([
      { dir: '/cg', controller: 'memory' },
      { dir: '/cg', controller: 'cpu' },
      { dir: '/cg', controller: 'pids' },
    ]);
  });

  it('does not write a pre-existing parent that already has the controllers', () => {
    const fake = v2Fs('memory pids');
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/tslab/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    m.create();
    m.apply({ pids: { limit: 5 } });
    expect(fake.writes.map((w) => w[0])).toEqual(['/cg/tslab/cgroup.subtree_control', '/cg/tslab/c1/pids.max', '/cg/tslab/c1']);
    expect(m.toJSON().enabled).toEqual([]);
  });

  it('never goes above the first pre-existing parent, and explains a missing controller', () => {
    const fake = v2Fs('');
    fake.root('/cg/shared', { 'cgroup.controllers': '', 'cgroup.subtree_control': '', 'cgroup.procs': '' });
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/shared/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    m.create();
    let err: unknown;
    try {
      m.apply({ memory: { limit: 1 << 20 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect(String(err)).toMatch(/"memory" not available in \/cg\/shared .*\/cg\/cgroup.subtree_control/);
    expect(fake.writes).toEqual([]); // nothing half-applied
    m.destroy();
    expect(fake.dirs.has('/cg/shared')).toBe(true);
  });

  it('device rules become an eBPF filter on the container\'s cgroup, attached after the files are written', () => {
    const fake = v2Fs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    m.create();
    const devices = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c' as const, major: 10, minor: 200, access: 'rw' }];
    m.apply({ devices, pids: { limit: 3 } });
    expect(fake.writes).toEqual([
      ['/cg/cgroup.subtree_control', '+pids'],
      ['/cg/c1/pids.max', '3'],
      ['/cg/c1', DEVICE_FILTER],
    ]);
    // The user's rules, then the default allow list, as on v1.
    expect(fake.filters.get('/cg/c1')).toEqual(deviceFilterProgram(effectiveDeviceRules(devices)));
    // Applying again replaces the filter (the real installer detaches the old program).
    m.apply({ devices: [{ allow: false, access: 'rwm' }] });
    expect(fake.filters.get('/cg/c1')).toEqual(deviceFilterProgram(effectiveDeviceRules([{ allow: false, access: 'rwm' }])));
    expect(fake.filters.size).toBe(1);
  });

  it('an invalid device rule fails before anything is written or attached', () => {
    const fake = v2Fs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    m.create();
    expect(() => m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, access: 'rx' }], pids: { limit: 3 } }))
      .toThrow(/linux\.resources\.devices\[1\]: access "rx"/);
    expect(fake.writes).toEqual([]);
    expect(fake.filters.size).toBe(0);
  });

  it('a filter the kernel refuses is an error naming the cgroup and eBPF (never silently skipped)', () => {
    const fake = v2Fs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    m.create();
    fake.failInstall = 'EPERM';
    let err: CgroupError | undefined;
    try {
      m.apply(undefined);
    } catch (e) {
      err = e as CgroupError;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect(err!.path).toBe('/cg/c1');
    expect(err!.code).toBe('EPERM');
    expect(err!.message).toMatch(/cannot attach the device filter .* to \/cg\/c1: .*eBPF.*BPF_PROG_ATTACH\): EPERM/);
  });

  it('freezes with cgroup.freeze and polls cgroup.events', () => {
    const fake = v2Fs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    m.create();
    const origWrite = fake.writeFile.bind(fake);
    fake.writeFile = (p, v) => {
      origWrite(p, v);
      if (p.endsWith('cgroup.freeze')) fake.files.set('/cg/c1/cgroup.events', `populated 1\nfrozen ${v}\n`);
    };
    m.freeze();
    expect(m.isFrozen()).toBe(true);
    m.thaw();
    expect(m.isFrozen()).toBe(false);
  });

  it('destroy({kill}) writes cgroup.kill before removing', () => {
    const fake = v2Fs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: V2_LAYOUT, ownCgroupFile: '0::/\n', fs: fake, deviceFilter: fake.deviceFilter });
    m.create();
    m.destroy({ kill: true });
    expect(fake.writes).toContainEqual(['/cg/c1/cgroup.kill', '1']);
    expect(fake.rmdirs).toEqual(['/cg/c1']);
  });
});

// ---- v1 / hybrid ---------------------------------------------------------------------------------------------------

const HYBRID_LAYOUT = detectCgroupMode(`32 31 0:29 / /cg/cpu rw - cgroup cgroup rw,cpu
34 31 0:31 / /cg/cpuset rw - cgroup cgroup rw,cpuset
35 31 0:32 / /cg/memory rw - cgroup cgroup rw,memory
36 31 0:33 / /cg/devices rw - cgroup cgroup rw,devices
37 31 0:34 / /cg/freezer rw - cgroup cgroup rw,freezer
41 31 0:38 / /cg/unified rw - cgroup2 cgroup2 rw
`);
const HYBRID_OWN = '5:devices:/\n4:memory:/me\n3:cpuset:/\n2:freezer:/\n1:cpu:/\n0::/\n';

const V1_FILES: Record<string, Record<string, string>> = {
  cpu: { 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  memory: {
    'memory.limit_in_bytes': '9223372036854771712',
    'memory.memsw.limit_in_bytes': '9223372036854771712',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
  },
  devices: { 'devices.allow': '', 'devices.deny': '' },
  freezer: { 'freezer.state': 'THAWED' },
  unified: { 'cgroup.events': 'populated 0\nfrozen 0\n', 'cgroup.freeze': '0', 'cgroup.kill': '' },
};

function hybridFs(opts: { memsw?: boolean } = {}): FakeCgroupFs {
  const fake = new FakeCgroupFs((f, dir) => {
    const hier = dir.split('/')[2]!;
    f.files.set(posix.join(dir, 'cgroup.procs'), '');
    for (const [file, v] of Object.entries(V1_FILES[hier] ?? {})) {
      if (file === 'memory.memsw.limit_in_bytes' && opts.memsw === false) continue;
      f.files.set(posix.join(dir, file), v);
    }
  });
  fake.root('/cg');
  for (const h of ['cpu', 'cpuset', 'memory', 'devices', 'freezer', 'unified']) {
    fake.root(`/cg/${h}`, { 'cgroup.procs': '1\n', ...(V1_FILES[h] ?? {}) });
  }
  fake.root('/cg/memory/me', { 'cgroup.procs': '100\n', ...V1_FILES['memory'] });
  fake.files.set('/cg/cpuset/cpuset.cpus', '0-1\n');
  fake.files.set('/cg/cpuset/cpuset.mems', '0\n');
  return fake;
}

describe('cgroup v1/hybrid manager (fake fs)', () => {
  it('creates in every hierarchy, copies cpuset from the parent, records created dirs', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/tslab/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    expect(m.toJSON().created).toEqual([
      '/cg/cpu/tslab', '/cg/cpu/tslab/c1',
      '/cg/cpuset/tslab', '/cg/cpuset/tslab/c1',
      '/cg/memory/tslab', '/cg/memory/tslab/c1',
      '/cg/devices/tslab', '/cg/devices/tslab/c1',
      '/cg/freezer/tslab', '/cg/freezer/tslab/c1',
      '/cg/unified/tslab', '/cg/unified/tslab/c1',
    ]);
    expect(fake.files.get('/cg/cpuset/tslab/cpuset.cpus')).toBe('0-1');
    expect(fake.files.get('/cg/cpuset/tslab/c1/cpuset.mems')).toBe('0');
  });

  it('a parent another create has just made gets its cpuset from it in a moment: waited for, not changed', () => {
    const fake = hybridFs();
    fake.root('/cg/cpuset/tslab', { 'cgroup.procs': '', 'cpuset.cpus': '', 'cpuset.mems': '' });
    // The other create fills it in after this one has looked a few times.
    let looks = 0;
    const readFile = fake.readFile.bind(fake);
    fake.readFile = (path: string) => {
      if (path.startsWith('/cg/cpuset/tslab/cpuset.') && ++looks === 5) {
        fake.files.set('/cg/cpuset/tslab/cpuset.cpus', '0-1');
        fake.files.set('/cg/cpuset/tslab/cpuset.mems', '0');
      }
      return readFile(path);
    };
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/tslab/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    expect(m.toJSON().created).not.toContain('/cg/cpuset/tslab');
    expect(fake.writes.filter(([p]) => p.startsWith('/cg/cpuset/tslab/cpuset.'))).toEqual([]);
    expect(fake.files.get('/cg/cpuset/tslab/c1/cpuset.cpus')).toBe('0-1');
    expect(fake.files.get('/cg/cpuset/tslab/c1/cpuset.mems')).toBe('0');
  });

  it('a parent whose cpuset stays empty is refused after a second, and left as it was', () => {
    const fake = hybridFs();
    fake.root('/cg/cpuset/tslab', { 'cgroup.procs': '', 'cpuset.cpus': '', 'cpuset.mems': '' });
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/tslab/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    const started = Date.now();
    expect(() => m.create()).toThrow(/the parent cgroup \/cg\/cpuset\/tslab has an empty cpuset.cpus.*does not change cgroups it did not create/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.dirs.has('/cg/cpuset/tslab')).toBe(true);
    expect(fake.writes.filter(([p]) => p.startsWith('/cg/cpuset/tslab/cpuset.'))).toEqual([]);
  });

  it('unset path goes below the own cgroup; a second create() adopts nothing new', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    expect(m.paths['memory']).toBe('/cg/memory/me/c1');
    m.create();
    m.create();
    expect(m.toJSON().created).toHaveLength(6);
  });

  it('apply: devices (deny all, user rules, defaults), memory order, cpu with read-back', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    fake.files.set('/cg/memory/c1/memory.limit_in_bytes', String(32 << 20)); // as if limited before (update)
    m.apply({
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 128 << 20, swap: 256 << 20 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '1' },
    });
    const w = fake.writes.map(([p, v]) => `${p.replace('/cg/', '')}=${v}`);
    expect(w.slice(0, 6)).toEqual([
      'cpuset/c1/cpuset.cpus=0-1', // create(): copied from the parent
      'cpuset/c1/cpuset.mems=0',
      'cpuset/c1/cpuset.cpus=1',
      'devices/c1/devices.deny=a',
      'devices/c1/devices.deny=a *:* rwm',
      'devices/c1/devices.allow=c *:* m',
    ]);
    expect(w.slice(-5)).toEqual([
      'memory/c1/memory.memsw.limit_in_bytes=268435456',
      'memory/c1/memory.limit_in_bytes=134217728',
      'cpu/c1/cpu.shares=512',
      'cpu/c1/cpu.cfs_period_us=100000',
      'cpu/c1/cpu.cfs_quota_us=50000',
    ]);
  });

  it('hybrid: the v1 devices controller enforces the rules, no eBPF filter goes on the cgroup2 directory', () => {
    const fake = hybridFs();
    const m = newCgroupManager({
      id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake, deviceFilter: fake.deviceFilter,
    });
    m.create();
    m.apply({ devices: [{ allow: false, access: 'rwm' }] });
    m.apply(undefined);
    expect(fake.filters.size).toBe(0);
    expect(fake.writes.filter(([p]) => p.startsWith('/cg/unified/'))).toEqual([]);
    expect(fake.writes.filter(([p]) => p === '/cg/devices/c1/devices.deny')).toHaveLength(3); // "a", "a *:* rwm"; then "a" again
  });

  it('retries cpu.cfs_period_us after the quota on EINVAL; reports a clamped cpu.shares', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    fake.failWrites.set('/cg/cpu/c1/cpu.cfs_period_us', ['EINVAL']);
    m.apply({ cpu: { quota: 2000, period: 4000 } });
    const cpuWrites = fake.writes.filter(([p]) => p.startsWith('/cg/cpu/')).map(([p, v]) => `${posix.basename(p)}=${v}`);
    expect(cpuWrites).toEqual(['cpu.cfs_quota_us=2000', 'cpu.cfs_period_us=4000']);

    const origWrite = fake.writeFile.bind(fake);
    fake.writeFile = (p, v) => origWrite(p, p.endsWith('cpu.shares') ? '262144' : v);
    expect(() => m.apply({ cpu: { shares: 1_000_000 } })).toThrow(/maximum allowed value is 262144/);
  });

  it('skips memsw without swap accounting', () => {
    const fake = hybridFs({ memsw: false });
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    m.apply({ memory: { limit: 1 << 20, swap: 2 << 20 } });
    expect(fake.writes.filter(([p]) => p.includes('memsw'))).toEqual([]);
  });

  it('errors name the file, the value and the errno', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    fake.failWrites.set('/cg/memory/c1/memory.limit_in_bytes', ['EBUSY']);
    let err: CgroupError | undefined;
    try {
      m.apply({ memory: { limit: 4096 } });
    } catch (e) {
      err = e as CgroupError;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect(err!.path).toBe('/cg/memory/c1/memory.limit_in_bytes');
    expect(err!.value).toBe('4096');
    expect(err!.code).toBe('EBUSY');
    expect(err!.message).toMatch(/cannot write "4096" to \/cg\/memory\/c1\/memory.limit_in_bytes: EBUSY — .*more memory/);
  });

  it('rolls back a half-done create', () => {
    const fake = hybridFs();
    fake.failWrites.set('/cg/cpuset/c1/cpuset.mems', ['EACCES']);
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    expect(() => m.create()).toThrow(/cpuset.mems/);
    expect(fake.rmdirs.sort()).toEqual(['/cg/cpu/c1', '/cg/cpuset/c1']);
    expect(m.toJSON().created).toEqual([]);
  });

  it('uses the v1 freezer in hybrid mode', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    m.freeze();
    expect(fake.files.get('/cg/freezer/c1/freezer.state')).toBe('FROZEN');
    expect(fake.files.get('/cg/unified/c1/cgroup.freeze')).toBe('0');
    expect(m.isFrozen()).toBe(true);
    m.thaw();
    expect(m.isFrozen()).toBe(false);
  });

  it('destroy: deepest first, only what it created, container-made children first, shared parents left', () => {
    const fake = hybridFs();
    fake.root('/cg/memory/existing', { 'cgroup.procs': '' });
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/existing/tslab/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    // The container made a child cgroup of its own; another container shares the intermediate "tslab" in cpu.
    fake.mkdir('/cg/cpu/existing/tslab/c1/inner');
    fake.root('/cg/cpu/existing/tslab/other', { 'cgroup.procs': '' });
    fake.rmdirs = [];

    const saved = JSON.parse(JSON.stringify(m.toJSON()));
    const again = loadCgroupManager(saved, fake);
    expect(again.paths).toEqual(m.paths);
    again.destroy();
    expect(fake.rmdirs[0]).toBe('/cg/cpu/existing/tslab/c1/inner');
    expect(fake.rmdirs).toContain('/cg/memory/existing/tslab/c1');
    expect(fake.rmdirs.indexOf('/cg/memory/existing/tslab/c1')).toBeLessThan(fake.rmdirs.indexOf('/cg/memory/existing/tslab'));
    expect(fake.dirs.has('/cg/memory/existing')).toBe(true); // not ours
    expect(fake.dirs.has('/cg/cpu/existing/tslab')).toBe(true); // shared with "other"
    expect(fake.dirs.has('/cg/cpu/existing/tslab/c1')).toBe(false);
    expect(again.toJSON().created).toEqual([]);
    again.destroy(); // idempotent
  });

  it('destroy fails clearly when processes stay, and keeps the dir for a retry', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    fake.busy.add('/cg/memory/c1');
    fake.files.set('/cg/memory/c1/cgroup.procs', '4242\n');
    expect(() => m.destroy({ timeoutMs: 30 })).toThrow(/\/cg\/memory\/c1 still has processes \(4242\)/);
    expect(m.toJSON().created).toEqual(['/cg/memory/c1']);
    fake.busy.clear();
    m.destroy();
    expect(m.toJSON().created).toEqual([]);
  });

  it('pids() unions every hierarchy and nested cgroups', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    fake.files.set('/cg/memory/c1/cgroup.procs', '30\n10\n');
    fake.files.set('/cg/cpu/c1/cgroup.procs', '10\n');
    fake.mkdir('/cg/cpu/c1/sub');
    fake.files.set('/cg/cpu/c1/sub/cgroup.procs', '20\n');
    expect(m.pids()).toEqual([10, 20, 30]);
    fake.rmdir('/cg/cpu/c1/sub');
  });

  it('oomKillCount reads memory.oom_control', () => {
    const fake = hybridFs();
    const m = newCgroupManager({ id: 'c1', cgroupsPath: '/c1', layout: HYBRID_LAYOUT, ownCgroupFile: HYBRID_OWN, fs: fake });
    m.create();
    fake.files.set('/cg/memory/c1/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
    expect(m.oomKillCount()).toBe(3);
  });

  it('loadCgroupManager rejects garbage', () => {
    expect(() => loadCgroupManager({} as never)).toThrow(CgroupError);
  });
});
