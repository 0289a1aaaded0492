// cgroups: where they are made, that they exist while running and are gone after delete, and that
// memory and pids limits really hold.
//
// Only cgroup directories named with this run's prefix are ever looked at; nothing is changed or
// removed by the test itself.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { cgroupDirOf, cgroupMount, cgroupPathOf, processExists, waitFor } from '../helpers/kernel.js';
import { findPrefixedCgroups } from '../helpers/leaks.js';
import { KNOWN_DIFFERENCES, describeResult, expectError, expectOk } from '../helpers/runtime.js';

const s = setupSuite('res');

/** The v1 controllers every container must be placed in on this (hybrid) machine. */
const CONTROLLERS = ['memory', 'pids', 'devices', 'freezer', 'cpu'].filter((c) => cgroupMount(c) !== undefined);

const MiB = 1024 * 1024;

async function runDetached(mutate?: (spec: SpecJson) => void): Promise<{ id: string; pid: number }> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sleep', '1000'];
    mutate?.(spec);
  });
  const id = s.id();
  expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
  const st = await s.rt.state(id);
  return { id, pid: st.pid };
}

/** Checks the container's cgroup dirs: at `expected(controller)`, existing, holding the init pid. */
function expectCgroups(pid: number, expected: (controller: string) => string): string[] {
  const dirs: string[] = [];
  for (const c of CONTROLLERS) {
    expect(cgroupPathOf(pid, c), c).toBe(expected(c));
    const dir = cgroupDirOf(pid, c)!;
    expect(fs.existsSync(dir), dir).toBe(true);
    const procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    expect(procs, `${dir}/cgroup.procs`).toContain(pid);
    dirs.push(dir);
  }
  return dirs;
}

async function deleteAndExpectGone(id: string, pid: number, dirs: string[]): Promise<void> {
  expectOk(await s.rt.exec(['delete', '--force', id]));
  await waitFor(() => !processExists(pid), 5000, 'init gone');
  for (const d of dirs) expect(fs.existsSync(d), d).toBe(false);
  expect(findPrefixedCgroups(id)).toEqual([]);
}

describe('cgroup placement', () => {
  test('unset cgroupsPath: cgroups named after the id, under the caller\'s own cgroups', async () => {
    const { id, pid } = await runDetached((spec) => {
      delete spec.linux.cgroupsPath;
    });
    const dirs = expectCgroups(pid, (c) => path.posix.join(cgroupPathOf('self', c)!, id));
    await deleteAndExpectGone(id, pid, dirs);
  });

  test('relative cgroupsPath: under the caller\'s own cgroups', async () => {
    const name = `${s.prefix}-rel`;
    const { id, pid } = await runDetached((spec) => {
      spec.linux.cgroupsPath = name;
    });
    const dirs = expectCgroups(pid, (c) => path.posix.join(cgroupPathOf('self', c)!, name));
    await deleteAndExpectGone(id, pid, dirs);
    expect(findPrefixedCgroups(name)).toEqual([]);
  });

  test('absolute cgroupsPath: at the root of each hierarchy', async () => {
    const name = `${s.prefix}-abs`;
    const { id, pid } = await runDetached((spec) => {
      spec.linux.cgroupsPath = `/${name}`;
    });
    const dirs = expectCgroups(pid, () => `/${name}`);
    await deleteAndExpectGone(id, pid, dirs);
    expect(findPrefixedCgroups(name)).toEqual([]);
  });

  test('cgroups exist from create on and are gone after a plain delete of a stopped container', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    const { pid } = await s.rt.state(id);
    const dirs = expectCgroups(pid, (c) => path.posix.join(cgroupPathOf('self', c)!, id));
    expectOk(await s.rt.exec(['start', id]));
    for (const d of dirs) expect(fs.existsSync(d), d).toBe(true);
    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    await s.rt.waitForStatus(id, 'stopped');
    expectOk(await s.rt.exec(['delete', id]));
    for (const d of dirs) expect(fs.existsSync(d), d).toBe(false);
    expect(findPrefixedCgroups(id)).toEqual([]);
  });
});

describe('memory', () => {
  // dd allocates one 64 MiB buffer and fills it from /dev/zero: 64 MiB really touched.
  const ALLOC_64M = ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'];

  test('the limit is written to the memory cgroup', async () => {
    const { pid } = await runDetached((spec) => {
      spec.linux.resources.memory = { limit: 32 * MiB, swap: 32 * MiB };
    });
    const dir = cgroupDirOf(pid, 'memory')!;
    expect(Number(fs.readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8'))).toBe(32 * MiB);
    const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
    if (fs.existsSync(memsw)) expect(Number(fs.readFileSync(memsw, 'utf8'))).toBe(32 * MiB);
  });

  test('a 32 MiB limit kills a 64 MiB allocation (exit 137)', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ALLOC_64M;
      spec.linux.resources.memory = { limit: 32 * MiB, swap: 32 * MiB };
    });
    const r = await s.runFg(b, s.id());
    expect(r.code, describeResult(r)).toBe(137);
  });

  test('without a limit the same allocation succeeds', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ALLOC_64M;
    });
    const r = await s.runFg(b, s.id());
    expect(r.code, describeResult(r)).toBe(0);
  });
});

describe('pids', () => {
  const FORK_LOOP = 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; echo forked-all';

  test('the limit is written to the pids cgroup', async () => {
    const { pid } = await runDetached((spec) => {
      spec.linux.resources.pids = { limit: 10 };
    });
    const dir = cgroupDirOf(pid, 'pids')!;
    expect(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim()).toBe('10');
  });

  test('a pids limit stops a fork loop', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sh', '-c', FORK_LOOP];
      spec.linux.resources.pids = { limit: 10 };
    });
    const r = await s.runFg(b, s.id());
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stdout).not.toContain('forked-all');
    expect(r.stderr).toMatch(/fork/i);
  });

  test('without a limit the same loop completes', async () => {
    const b = await s.bundle((spec) => {
      // The children are killed with the pid namespace when the shell (pid 1) exits.
      spec.process.args = ['sh', '-c', FORK_LOOP];
    });
    const r = await s.runFg(b, s.id());
    expectOk(r);
    expect(r.stdout).toContain('forked-all');
  });
});

/** The first real disk (not a loop, ram or zram device) as "major:minor", from /sys/block. */
function aDisk(): { major: number; minor: number } {
  const name = fs.readdirSync('/sys/block').find((d) => !/^(loop|ram|zram)/.test(d));
  if (!name) throw new Error('no disk in /sys/block to set a block I/O limit on');
  const [major, minor] = fs.readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
  return { major: major!, minor: minor! };
}

/** Does a v1 controller's root cgroup have this file (the kernel offers the feature)? */
function controllerHas(controller: string, file: string): boolean {
  const mount = cgroupMount(controller);
  return mount !== undefined && fs.existsSync(path.join(mount, file));
}

describe('settings the machine may lack: applied where it can, an error naming them where it cannot', () => {
  test('blockIO throttles are written to the blkio cgroup', async () => {
    const disk = aDisk();
    const { pid } = await runDetached((spec) => {
      spec.linux.resources.blockIO = {
        throttleReadBpsDevice: [{ ...disk, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ ...disk, rate: 100 }],
      };
    });
    const dir = cgroupDirOf(pid, 'blkio')!;
    expect(fs.readFileSync(path.join(dir, 'blkio.throttle.read_bps_device'), 'utf8').trim()).toBe(`${disk.major}:${disk.minor} 1048576`);
    expect(fs.readFileSync(path.join(dir, 'blkio.throttle.write_iops_device'), 'utf8').trim()).toBe(`${disk.major}:${disk.minor} 100`);
  });

  test('blockIO.weight: written where the kernel has a weight file, refused where it has none', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.linux.resources.blockIO = { weight: 500 };
    });
    const id = s.id();
    const r = await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]);
    if (controllerHas('blkio', 'blkio.weight') || controllerHas('blkio', 'blkio.bfq.weight')) {
      expectOk(r);
      const dir = cgroupDirOf((await s.rt.state(id)).pid, 'blkio')!;
      const file = fs.existsSync(path.join(dir, 'blkio.bfq.weight')) ? 'blkio.bfq.weight' : 'blkio.weight';
      expect(fs.readFileSync(path.join(dir, file), 'utf8')).toMatch(/\b500\b/);
    } else {
      expectError(r, /blkio\.(bfq\.)?weight|blockIO\.weight/);
    }
  });

  // Each: the setting, the v1 controller it needs, what the error must mention, the file and value when it applies.
  const needsController: Array<[string, string, RegExp, (spec: SpecJson) => void, string, string]> = [
    ['hugepageLimits', 'hugetlb', /hugetlb|hugepage/i, (spec) => (spec.linux.resources.hugepageLimits = [{ pageSize: '2MB', limit: 4 * MiB }]), 'hugetlb.2MB.limit_in_bytes', String(4 * MiB)],
    ['network.classID', 'net_cls', /net_cls/, (spec) => (spec.linux.resources.network = { classID: 0x100001 }), 'net_cls.classid', String(0x100001)],
    ['network.priorities', 'net_prio', /net_prio/, (spec) => (spec.linux.resources.network = { priorities: [{ name: 'lo', priority: 5 }] }), 'net_prio.ifpriomap', 'lo 5'],
    ['rdma', 'rdma', /rdma/, (spec) => (spec.linux.resources.rdma = { mlx5_1: { hcaHandles: 3 } }), 'rdma.max', 'mlx5_1'],
  ];
  for (const [setting, controller, message, set, file, value] of needsController) {
    test(`${setting}: needs the ${controller} controller`, async () => {
      const b = await s.bundle((spec) => {
        spec.process.args = ['sleep', '1000'];
        set(spec);
      });
      const id = s.id();
      const r = await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]);
      if (cgroupMount(controller) === undefined) {
        expectError(r, message);
        expect(await s.rt.stateOrNull(id)).toBeNull();
      } else {
        expectOk(r);
        const dir = cgroupDirOf((await s.rt.state(id)).pid, controller)!;
        expect(fs.readFileSync(path.join(dir, file), 'utf8')).toContain(value);
      }
    });
  }

  test('unified (cgroup v2 files) on a machine whose controllers are v1: refused', async () => {
    if (cgroupMount('memory') === undefined) return expect(cgroupMount('memory')).toBeUndefined();
    const b = await s.bundle((spec) => {
      spec.linux.resources.unified = { 'memory.high': '1000000' };
    });
    expectError(await s.create(b, s.id()), /unified/);
  });

  test('kernel memory limits: not applied, and said so (runc\'s warning)', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.linux.resources.memory = { kernel: 32 * MiB, kernelTCP: 8 * MiB };
    });
    const r = await s.runFg(b, s.id());
    expectOk(r);
    expect(r.stderr).toMatch(/Kernel memory settings are ignored/);
  });

  // Confinement neither runtime can apply on this machine (no SELinux, no AppArmor, no resctrl).
  const refused: Array<[string, RegExp, (spec: SpecJson) => void]> = [
    ['process.selinuxLabel', /selinux/i, (spec) => (spec.process.selinuxLabel = 'system_u:system_r:container_t:s0')],
    ['process.apparmorProfile', /apparmor/i, (spec) => (spec.process.apparmorProfile = 'docker-default')],
    ['linux.mountLabel', /mountLabel|context=/, (spec) => (spec.linux.mountLabel = 'system_u:object_r:container_file_t:s0')],
    ['linux.intelRdt', /intelRdt|Intel RDT/, (spec) => (spec.linux.intelRdt = { closID: 'tslab', l3CacheSchema: 'L3:0=f' })],
  ];
  for (const [setting, message, set] of refused) {
    test(`${setting}: refused, never ignored`, async () => {
      if (setting.includes('selinux') || setting.includes('mountLabel')) expect(fs.existsSync('/sys/fs/selinux/enforce')).toBe(false);
      if (setting.includes('apparmor')) expect(fs.existsSync('/sys/kernel/security/apparmor')).toBe(false);
      if (setting.includes('intelRdt')) expect(fs.existsSync('/sys/fs/resctrl/schemata')).toBe(false);
      const b = await s.bundle((spec) => {
        spec.process.args = ['true'];
        set(spec);
      });
      const id = s.id();
      expectError(await s.runFg(b, id), message);
      expect(await s.rt.stateOrNull(id)).toBeNull();
    });
  }

  test('linux.personality: tslab refuses it (runc 1.1.5 predates it and runs without it)', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.linux.personality = { domain: 'LINUX32' };
    });
    const r = await s.runFg(b, s.id());
    if (KNOWN_DIFFERENCES.refusesPersonality) expectError(r, /linux\.personality/);
    else expectOk(r);
  });
});
