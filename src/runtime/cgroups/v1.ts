// cgroup v1: OCI linux.resources -> the files to write, in order. Pure functions (no filesystem access), so the
// values can be unit-tested; the manager (manager.ts) performs the writes.
//
// In v1 every controller has its own hierarchy and its own files:
//   memory   memory.limit_in_bytes, memory.soft_limit_in_bytes, memory.memsw.limit_in_bytes (memory+swap)
//   cpu      cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us (-1 = no limit)
//   cpuset   cpuset.cpus, cpuset.mems
//   pids     pids.max
//   devices  devices.allow / devices.deny (see devices.ts)
//   blkio, hugetlb, net_cls, net_prio, rdma: see blkio.ts, hugetlb.ts, network.ts, rdma.ts
// The rules below follow runc's libcontainer/cgroups/fs so a config behaves the same under both runtimes.

import type { CpuResources, MemoryResources, Resources } from '../spec/types.js';
import { CgroupError } from './cgroup-error.js';
import type { CgroupWrite } from './write.js';
import { effectiveDeviceRules, v1DeviceWrites } from './devices.js';
import { planV1Blkio } from './blkio.js';
import { planHugetlb } from './hugetlb.js';
import { planNetworkClasses } from './net-classes.js';
import { planRdma } from './rdma.js';

/** What the v1 memory plan needs to know about the current cgroup. */
export interface V1MemoryContext {
  /** Does memory.memsw.limit_in_bytes exist (swap accounting enabled)? */
  memswAvailable: boolean;
  /** Current memory.limit_in_bytes (a new cgroup reads 9223372036854771712, i.e. unlimited). */
  currentLimit?: bigint;
  /** Does the blkio cgroup name its weight files blkio.bfq.weight (the BFQ I/O scheduler)? */
  blkioBfq?: boolean;
  /** Leave the device rules alone (`update` changes limits only, as runc's does). */
  skipDevices?: boolean;
}

const UNLIMITED_V1 = 9223372036854771712n;

function checkByteCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < -1) {
    throw new CgroupError(`linux.resources.${name} = ${value}: expected -1 (no limit) or a byte count`);
  }
}

export function planV1Memory(mem: MemoryResources | undefined, ctx: V1MemoryContext): CgroupWrite[] {
  if (!mem) return [];
  const writes: CgroupWrite[] = [];
  const limit = mem.limit ?? 0;
  let swap = mem.swap ?? 0; // OCI memory.swap = memory + swap, exactly what memory.memsw.limit_in_bytes means
  checkByteCount(limit, 'memory.limit');
  checkByteCount(swap, 'memory.swap');
  if (limit > 0 && swap > 0 && swap < limit) {
    throw new CgroupError(
      `linux.resources.memory.swap (${swap}) is smaller than memory.limit (${limit}); OCI "swap" means memory+swap, ` +
        'so it must be at least the memory limit',
    );
  }
  // runc: "memory: -1" with no swap setting means "no limit at all", swap included.
  if (limit === -1 && swap === 0 && ctx.memswAvailable) swap = -1;

  const limitWrite: CgroupWrite | undefined =
    limit !== 0 ? { controller: 'memory', file: 'memory.limit_in_bytes', value: String(limit) } : undefined;
  // Without swap accounting there is no memsw file; the swap setting cannot be applied and is skipped, as in runc.
  const swapWrite: CgroupWrite | undefined =
    swap !== 0 && ctx.memswAvailable ? { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(swap) } : undefined;

  if (limitWrite && swapWrite) {
    // The kernel insists memory.limit <= memsw.limit after *every* write. Raising: memsw first; lowering: limit first.
    const current = ctx.currentLimit ?? UNLIMITED_V1;
    if (swap === -1 || current < BigInt(swap)) writes.push(swapWrite, limitWrite);
    else writes.push(limitWrite, swapWrite);
  } else {
    if (limitWrite) writes.push(limitWrite);
    if (swapWrite) writes.push(swapWrite);
  }

  if (mem.reservation !== undefined && mem.reservation !== 0) {
    checkByteCount(mem.reservation, 'memory.reservation');
    writes.push({ controller: 'memory', file: 'memory.soft_limit_in_bytes', value: String(mem.reservation) });
  }
  if (mem.swappiness !== undefined && mem.swappiness !== -1) {
    if (!Number.isInteger(mem.swappiness) || mem.swappiness < 0 || mem.swappiness > 100) {
      throw new CgroupError(`linux.resources.memory.swappiness = ${mem.swappiness}: expected 0..100`);
    }
    writes.push({ controller: 'memory', file: 'memory.swappiness', value: String(mem.swappiness) });
  }
  if (mem.disableOOMKiller === true) {
    writes.push({ controller: 'memory', file: 'memory.oom_control', value: '1' });
  }
  // memory.kernel / memory.kernelTCP: see kernelMemoryWarning.
  return writes;
}

export function planV1Cpu(cpu: CpuResources | undefined): CgroupWrite[] {
  if (!cpu) return [];
  const writes: CgroupWrite[] = [];
  if (cpu.shares !== undefined && cpu.shares !== 0) {
    writes.push({ controller: 'cpu', file: 'cpu.shares', value: String(cpu.shares), verifyReadBack: true });
  }
  const quota = cpu.quota ?? 0;
  const period = cpu.period ?? 0;
  if (period !== 0) {
    writes.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(period), retryLaterOnEinval: quota !== 0 });
  }
  if (quota !== 0) writes.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(quota) });
  // Realtime budget: period before runtime (runc's order).
  if (cpu.realtimePeriod !== undefined && cpu.realtimePeriod !== 0) {
    writes.push({ controller: 'cpu', file: 'cpu.rt_period_us', value: String(cpu.realtimePeriod) });
  }
  if (cpu.realtimeRuntime !== undefined && cpu.realtimeRuntime !== 0) {
    writes.push({ controller: 'cpu', file: 'cpu.rt_runtime_us', value: String(cpu.realtimeRuntime) });
  }
  if (cpu.idle !== undefined) writes.push({ controller: 'cpu', file: 'cpu.idle', value: String(cpu.idle) });
  return writes;
}

/** cpuset.cpus / cpuset.mems: the same files and values in v1 and v2. */
export function planCpuset(cpu: CpuResources | undefined): CgroupWrite[] {
  const writes: CgroupWrite[] = [];
  if (cpu?.cpus) writes.push({ controller: 'cpuset', file: 'cpuset.cpus', value: cpu.cpus });
  if (cpu?.mems) writes.push({ controller: 'cpuset', file: 'cpuset.mems', value: cpu.mems });
  return writes;
}

/**
 * pids.max (same file in v1 and v2): a positive limit is written as is; 0 or a negative limit means "max"
 * (runc 1.1 skipped 0, later runc versions and runtime-spec 1.2 treat it as "no limit": the same on a new cgroup).
 */
export function pidsMaxValue(limit: number): string {
  if (!Number.isSafeInteger(limit)) throw new CgroupError(`linux.resources.pids.limit = ${limit}: expected an integer`);
  return limit > 0 ? String(limit) : 'max';
}

export function planPids(pids: Resources['pids']): CgroupWrite[] {
  if (!pids) return [];
  return [{ controller: 'pids', file: 'pids.max', value: pidsMaxValue(pids.limit) }];
}

/**
 * The full v1 plan, in runc's subsystem order (cpuset, devices, memory, cpu, pids, blkio, hugetlb, net_cls,
 * net_prio, rdma). Device rules are always written (unless ctx.skipDevices): the user's rules followed by the
 * default allow list, on top of "deny all".
 */
export function planV1(resources: Resources | undefined, ctx: V1MemoryContext): CgroupWrite[] {
  if (resources?.unified && Object.keys(resources.unified).length > 0) {
    throw new CgroupError(
      'linux.resources.unified sets cgroup v2 files, but this machine uses cgroup v1 controllers ' +
        '(in hybrid mode the cgroup2 hierarchy has no controllers); remove "unified" or use a pure cgroup v2 machine',
    );
  }
  const userRules = resources?.devices ?? [];
  return [
    ...planCpuset(resources?.cpu),
    ...(ctx.skipDevices ? [] : v1DeviceWrites(effectiveDeviceRules(userRules), userRules.length)),
    ...planV1Memory(resources?.memory, ctx),
    ...planV1Cpu(resources?.cpu),
    ...planPids(resources?.pids),
    ...planV1Blkio(resources?.blockIO, ctx.blkioBfq ?? false),
    ...planHugetlb(resources?.hugepageLimits, 'v1'),
    ...planNetworkClasses(resources?.network, 'v1'),
    ...planRdma(resources?.rdma),
  ];
}

/**
 * memory.kernel and memory.kernelTCP are deprecated in the runtime-spec and Linux 6.x dropped kernel memory
 * limits: runc 1.1 applies neither and warns. So does tslab, in runc's words, naming the settings.
 */
export function kernelMemoryWarning(resources: Resources | undefined): string | undefined {
  const set = (['kernel', 'kernelTCP'] as const).filter((k) => resources?.memory?.[k] !== undefined);
  if (set.length === 0) return undefined;
  return `Kernel memory settings are ignored and will be removed (${set.map((k) => `linux.resources.memory.${k}`).join(', ')} not applied)`;
}
