// cgroup v2: OCI linux.resources -> files and values. Pure functions; the manager performs the writes.
//
// v2 has one hierarchy and different file names and units than v1:
//   memory.max, memory.low, memory.swap.max (swap ONLY, not memory+swap), pids.max,
//   cpu.weight (1..10000, default 100) instead of cpu.shares (2..262144, default 1024),
//   cpu.max "quota period" ("max 100000" = no limit), cpuset.cpus / cpuset.mems.
// A controller's files only appear in a cgroup once the controller is enabled in the parent's cgroup.subtree_control.
// Device rules are no file at all: they become an eBPF program attached to the cgroup (v2DeviceFilter, device-filter.ts).
// Conversions follow runc (libcontainer/cgroups/fs2 and cgroups.ConvertXxxToCgroupV2Value).

import type { CpuResources, MemoryResources, Resources } from '../spec/types.js';
import { CgroupError } from './cgroup-error.js';
import { deviceFilterProgram } from './device-filter.js';
import { effectiveDeviceRules } from './devices.js';
import { planCpuset, planPids } from './v1.js';
import type { CgroupWrite } from './write.js';
import { planV2Io } from './blkio.js';
import { planHugetlb } from './hugetlb.js';
import { planNetworkClasses } from './net-classes.js';
import { planRdma } from './rdma.js';

/** What the v2 plan needs to know about the container's cgroup. */
export interface V2Context {
  /** Does the cgroup have io.bfq.weight (the BFQ I/O scheduler's weight, on blkio's 10..1000 scale)? */
  ioBfq?: boolean;
}

/**
 * cpu.shares (v1) -> cpu.weight (v2): maps 2..262144 linearly onto 1..10000, so 1024 (the v1 default) becomes 39
 * (not v2's default 100: runc's formula, kept for compatibility). 0 means "not set". Shares are clamped to the range
 * the v1 kernel accepts first.
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  const s = Math.min(Math.max(Math.trunc(shares), 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** cpu.max from OCI quota/period (µs); undefined if neither is set. A quota of -1 (or unset) is "max". */
export function cpuMaxValue(quota: number | undefined, period: number | undefined): string | undefined {
  const q = quota ?? 0;
  const p = period ?? 0;
  if (q === 0 && p === 0) return undefined;
  let value = q > 0 ? String(q) : 'max';
  if (p !== 0) value += ` ${p}`;
  return value;
}

/** v2 number format: -1 is "max", 0 is "not set" (undefined), anything else as is. */
export function v2Number(value: number | undefined): string | undefined {
  if (value === undefined || value === 0) return undefined;
  if (value === -1) return 'max';
  return String(value);
}

/**
 * memory.swap.max from OCI memory.swap (memory+swap) and memory.limit: swap.max = swap - limit.
 * -1 -> "max"; swap equal to limit -> "0" (no swap); unset -> undefined (leave alone).
 */
export function swapMaxValue(swap: number | undefined, limit: number | undefined): string | undefined {
  const s = swap ?? 0;
  const l = limit ?? 0;
  // Like v1: "memory -1" without a swap setting means "unlimited memory and swap".
  if (l === -1 && s === 0) return 'max';
  if (s === -1) return 'max';
  if (s === 0) return undefined;
  if (l === 0 || l === -1) {
    throw new CgroupError('linux.resources.memory.swap is set without memory.limit; a swap limit needs a memory limit');
  }
  if (s < l) {
    throw new CgroupError(
      `linux.resources.memory.swap (${s}) is smaller than memory.limit (${l}); OCI "swap" means memory+swap, so it must ` +
        'be at least the memory limit',
    );
  }
  return String(s - l);
}

export function planV2Memory(mem: MemoryResources | undefined): CgroupWrite[] {
  if (!mem) return [];
  for (const [name, v] of [['limit', mem.limit], ['swap', mem.swap], ['reservation', mem.reservation]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < -1)) {
      throw new CgroupError(`linux.resources.memory.${name} = ${v}: expected -1 (no limit) or a byte count`);
    }
  }
  const writes: CgroupWrite[] = [];
  const swap = swapMaxValue(mem.swap, mem.limit);
  // Swap first (runc's order); with no swap on the machine the file is missing, which is fine for "max"/"0".
  if (swap !== undefined) {
    writes.push({ controller: 'memory', file: 'memory.swap.max', value: swap, optional: swap === 'max' || swap === '0' });
  }
  const max = v2Number(mem.limit);
  if (max !== undefined) writes.push({ controller: 'memory', file: 'memory.max', value: max });
  const low = v2Number(mem.reservation);
  if (low !== undefined) writes.push({ controller: 'memory', file: 'memory.low', value: low });
  // swappiness, disableOOMKiller, kernel, kernelTCP have no v2 file: ignored, as runc does.
  return writes;
}

export function planV2Cpu(cpu: CpuResources | undefined): CgroupWrite[] {
  if (!cpu) return [];
  if ((cpu.realtimeRuntime ?? 0) !== 0 || (cpu.realtimePeriod ?? 0) !== 0) {
    throw new CgroupError('linux.resources.cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2');
  }
  const writes: CgroupWrite[] = [];
  const weight = cpuSharesToWeight(cpu.shares ?? 0);
  if (weight !== 0) writes.push({ controller: 'cpu', file: 'cpu.weight', value: String(weight) });
  const max = cpuMaxValue(cpu.quota, cpu.period);
  if (max !== undefined) writes.push({ controller: 'cpu', file: 'cpu.max', value: max });
  if (cpu.idle !== undefined) writes.push({ controller: 'cpu', file: 'cpu.idle', value: String(cpu.idle) });
  return writes;
}

/** The controller a v2 file belongs to: its prefix ('memory.high' -> 'memory'); 'cgroup' files are core. */
function v2FileController(file: string): string {
  return file.slice(0, file.indexOf('.'));
}

/** linux.resources.unified: raw v2 "file: value" pairs, written last so they override the rest. */
export function planUnified(unified: Record<string, string> | undefined): CgroupWrite[] {
  if (!unified) return [];
  return Object.entries(unified).map(([file, value]) => {
    if (!/^[a-z0-9_]+\.[A-Za-z0-9_.]+$/.test(file) || file.includes('..')) {
      throw new CgroupError(`linux.resources.unified key "${file}" is not a cgroup v2 file name like "memory.high"`);
    }
    return { controller: v2FileController(file), file, value };
  });
}

/**
 * The device filter for linux.resources.devices: the user's rules, then the default allow list (as on v1), compiled
 * to eBPF instructions. Always a program, even without resources: like v1, a container gets "deny all but the
 * defaults" unless its rules say otherwise. Throws CgroupError for an invalid rule.
 */
export function v2DeviceFilter(resources: Resources | undefined): Buffer {
  const userRules = resources?.devices ?? [];
  return deviceFilterProgram(effectiveDeviceRules(userRules), userRules.length);
}

/** The full v2 plan of file writes (device rules are no file: see v2DeviceFilter). */
export function planV2(resources: Resources | undefined, ctx: V2Context = {}): CgroupWrite[] {
  if (!resources) return [];
  return [
    ...planCpuset(resources.cpu),
    ...planV2Memory(resources.memory),
    ...planV2Cpu(resources.cpu),
    ...planPids(resources.pids),
    ...planV2Io(resources.blockIO, ctx.ioBfq ?? false),
    ...planHugetlb(resources.hugepageLimits, 'v2'),
    ...planNetworkClasses(resources.network, 'v2'),
    ...planRdma(resources.rdma),
    ...planUnified(resources.unified),
  ];
}

/** Controllers a plan needs enabled in the parents' cgroup.subtree_control ('cgroup.*' files are always there). */
export function controllersNeeded(plan: CgroupWrite[]): string[] {
  const set = new Set<string>();
  for (const w of plan) if (w.controller !== 'cgroup' && w.controller !== '') set.add(w.controller);
  return [...set];
}
