// A container's resource usage read from its cgroup files, in the shape of runc 1.1's `events --stats` data
// (runc's types/events.go: the JSON names, and which zero values are left out, are runc's).
//
//   v1  cpuacct.usage / usage_percpu / usage_all / stat, cpu.stat, cpuset.*, memory.{usage,max_usage,limit}_in_bytes
//       and failcnt (memsw.* as "swap", kmem.* as "kernel", kmem.tcp.* as "kernelTCP"), memory.stat, pids.current/max,
//       blkio.throttle.io_service{_bytes,d}_recursive, hugetlb.<size>.*
//   v2  cpu.stat, memory.current/max/peak, memory.swap.current/max, memory.stat, pids.current/max, io.stat,
//       hugetlb.<size>.current/max/events
// A file that is missing (a controller not mounted, a kernel without the feature) leaves its part empty, as in runc.

import { posix } from 'node:path';
import type { CgroupFs } from './cgroup-fs.js';
import type { HierarchyPath } from './cgroup-paths.js';

export interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: number;
}

export interface ContainerStats {
  cpu: {
    usage: { total?: number; percpu?: number[]; percpu_kernel?: number[]; percpu_user?: number[]; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  cpuset: Record<string, number | number[]>;
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: number };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, { usage?: number; max?: number; failcnt: number }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

/** "no limit" as runc prints it: v1's page-rounded LLONG_MAX is printed as the kernel shows it; v2's "max" as 2^64-1. */
const V2_MAX = 18446744073709551615;
/** cpuacct.stat counts in USER_HZ ticks (100 a second on Linux); runc reports nanoseconds. */
const NS_PER_TICK = 1e9 / 100;

/** Reads one container's cgroup files, tolerating missing ones. */
class Reader {
  constructor(
    private readonly fs: CgroupFs,
    private readonly hierarchies: HierarchyPath[],
  ) {}

  /** The container's directory for a v1 controller, or the cgroup2 directory on a pure v2 machine. */
  dir(controller: string, v2: boolean): string | undefined {
    if (v2) return this.hierarchies.find((h) => h.kind === 'v2')?.dir;
    return this.hierarchies.find((h) => h.kind === 'v1' && h.controllers.includes(controller))?.dir;
  }

  text(dir: string | undefined, file: string): string | undefined {
    if (dir === undefined) return undefined;
    try {
      return this.fs.readFile(posix.join(dir, file));
    } catch {
      return undefined;
    }
  }

  /** A single number ("max" reads as `max`); undefined if the file is missing or holds something else. */
  num(dir: string | undefined, file: string, max = V2_MAX): number | undefined {
    const t = this.text(dir, file)?.trim();
    if (t === undefined) return undefined;
    if (t === 'max') return max;
    return /^-?\d+$/.test(t) ? Number(t) : undefined;
  }

  /** "key value" lines (memory.stat, cpu.stat, ...). */
  keyed(dir: string | undefined, file: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of (this.text(dir, file) ?? '').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
    }
    return out;
  }
}

/** A cpuset list ("0-2,4") as numbers. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a)) continue;
    const end = Number.isInteger(b) ? b! : a!;
    for (let i = a!; i <= end && i - a! < 4096; i++) out.push(i);
  }
  return out;
}

/** Leave out the fields Go's omitempty drops (zero numbers, empty lists). */
function compact<T extends object>(o: T, keep: string[] = []): T {
  for (const [k, v] of Object.entries(o)) {
    if (keep.includes(k)) continue;
    if (v === undefined || v === 0 || (Array.isArray(v) && v.length === 0)) delete (o as Record<string, unknown>)[k];
  }
  return o;
}

function memoryEntry(r: Reader, dir: string | undefined, prefix: string): MemoryEntry {
  return compact(
    {
      limit: r.num(dir, `${prefix}.limit_in_bytes`) ?? 0,
      usage: r.num(dir, `${prefix}.usage_in_bytes`),
      max: r.num(dir, `${prefix}.max_usage_in_bytes`),
      failcnt: r.num(dir, `${prefix}.failcnt`) ?? 0,
    },
    ['limit', 'failcnt'],
  );
}

/** blkio.throttle.io_service_bytes_recursive lines "8:0 Read 4096" (the last line, "Total N", names no device: left out, as by runc). */
function blkioEntries(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (!m) continue;
    out.push(compact({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) }));
  }
  return out;
}

/** io.stat lines "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." as runc's Read/Write entries. */
function ioStatEntries(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = Object.fromEntries(pairs.map((p) => p.split('=')).filter((p) => p.length === 2 && /^\d+$/.test(p[1]!)).map(([k, v]) => [k, Number(v)]));
    const entry = (op: string, value: number | undefined): BlkioEntry => compact({ major: Number(m[1]), minor: Number(m[2]), op, value });
    bytes.push(entry('Read', kv.rbytes), entry('Write', kv.wbytes));
    ios.push(entry('Read', kv.rios), entry('Write', kv.wios));
  }
  return { bytes, ios };
}

function hugetlbStats(r: Reader, dir: string | undefined, v2: boolean, fs: CgroupFs): ContainerStats['hugetlb'] {
  const out: ContainerStats['hugetlb'] = {};
  if (dir === undefined) return out;
  let files: string[];
  try {
    files = fs.listFiles?.(dir) ?? [];
  } catch {
    return out;
  }
  for (const f of files) {
    const m = /^hugetlb\.([0-9]+[KMG]B)\.(limit_in_bytes|max)$/.exec(f);
    if (!m) continue;
    const size = m[1]!;
    out[size] = v2
      ? compact({ usage: r.num(dir, `hugetlb.${size}.current`), max: undefined, failcnt: r.keyed(dir, `hugetlb.${size}.events`).max ?? 0 }, ['failcnt'])
      : compact(
          { usage: r.num(dir, `hugetlb.${size}.usage_in_bytes`), max: r.num(dir, `hugetlb.${size}.max_usage_in_bytes`), failcnt: r.num(dir, `hugetlb.${size}.failcnt`) ?? 0 },
          ['failcnt'],
        );
  }
  return out;
}

/** The stats of the container whose cgroups are `hierarchies` (v2: a pure cgroup v2 machine). */
export function readStats(fs: CgroupFs, hierarchies: HierarchyPath[], v2: boolean): ContainerStats {
  const r = new Reader(fs, hierarchies);
  return v2 ? readV2(r, fs) : readV1(r, fs);
}

function readV1(r: Reader, fs: CgroupFs): ContainerStats {
  const acct = r.dir('cpuacct', false);
  const cpu = r.dir('cpu', false);
  const perCpu = (r.text(acct, 'cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
  const all = (r.text(acct, 'cpuacct.usage_all') ?? '').split('\n').slice(1).map((l) => l.trim().split(/\s+/).map(Number)).filter((c) => c.length === 3 && c.every(Number.isFinite));
  const ticks = r.keyed(acct, 'cpuacct.stat');
  const throttle = r.keyed(cpu, 'cpu.stat');

  const cpuset = r.dir('cpuset', false);
  const cpusetStats: Record<string, number | number[]> = {};
  if (cpuset !== undefined) {
    const list = (file: string): number[] => parseCpuList(r.text(cpuset, file) ?? '');
    Object.assign(cpusetStats, { cpus: list('cpuset.cpus') });
    cpusetStats.cpu_exclusive = r.num(cpuset, 'cpuset.cpu_exclusive') ?? 0;
    cpusetStats.mems = list('cpuset.mems');
    for (const k of ['mem_hardwall', 'mem_exclusive', 'memory_migrate', 'memory_spread_page', 'memory_spread_slab', 'memory_pressure', 'sched_load_balance', 'sched_relax_domain_level']) {
      cpusetStats[k] = r.num(cpuset, `cpuset.${k}`) ?? 0;
    }
    compact(cpusetStats, Object.keys(cpusetStats).filter((k) => k !== 'cpus' && k !== 'mems'));
  }

  const mem = r.dir('memory', false);
  const raw = r.keyed(mem, 'memory.stat');
  const pids = r.dir('pids', false);
  const blkio = r.dir('blkio', false);
  return {
    cpu: {
      usage: compact(
        {
          total: r.num(acct, 'cpuacct.usage'),
          percpu: perCpu,
          percpu_kernel: all.map((c) => c[2]!),
          percpu_user: all.map((c) => c[1]!),
          kernel: (ticks.system ?? 0) * NS_PER_TICK,
          user: (ticks.user ?? 0) * NS_PER_TICK,
        },
        ['kernel', 'user'],
      ),
      throttling: compact({ periods: throttle.nr_periods, throttledPeriods: throttle.nr_throttled, throttledTime: throttle.throttled_time }),
    },
    cpuset: cpusetStats,
    memory: compact(
      {
        cache: raw.cache,
        usage: memoryEntry(r, mem, 'memory'),
        swap: memoryEntry(r, mem, 'memory.memsw'),
        kernel: memoryEntry(r, mem, 'memory.kmem'),
        kernelTCP: memoryEntry(r, mem, 'memory.kmem.tcp'),
        raw: Object.keys(raw).length > 0 ? raw : undefined,
      },
      ['usage', 'swap', 'kernel', 'kernelTCP'],
    ),
    pids: compact({ current: r.num(pids, 'pids.current'), limit: r.num(pids, 'pids.max', 0) }),
    blkio: compact({
      ioServiceBytesRecursive: blkioEntries(r.text(blkio, 'blkio.throttle.io_service_bytes_recursive')),
      ioServicedRecursive: blkioEntries(r.text(blkio, 'blkio.throttle.io_serviced_recursive')),
    }),
    hugetlb: hugetlbStats(r, r.dir('hugetlb', false), false, fs),
    intel_rdt: {},
    network_interfaces: null,
  };
}

function readV2(r: Reader, fs: CgroupFs): ContainerStats {
  const dir = r.dir('', true);
  const cpu = r.keyed(dir, 'cpu.stat');
  const raw = r.keyed(dir, 'memory.stat');
  const events = r.keyed(dir, 'memory.events');
  const io = ioStatEntries(r.text(dir, 'io.stat'));
  const usec = (n: number | undefined): number | undefined => (n === undefined ? undefined : n * 1000);
  const cpus = r.text(dir, 'cpuset.cpus.effective');
  const mems = r.text(dir, 'cpuset.mems.effective');
  return {
    cpu: {
      usage: compact({ total: usec(cpu.usage_usec), kernel: usec(cpu.system_usec) ?? 0, user: usec(cpu.user_usec) ?? 0 }, ['kernel', 'user']),
      throttling: compact({ periods: cpu.nr_periods, throttledPeriods: cpu.nr_throttled, throttledTime: usec(cpu.throttled_usec) }),
    },
    cpuset: compact({ cpus: parseCpuList(cpus ?? ''), mems: parseCpuList(mems ?? '') }),
    memory: compact(
      {
        cache: raw.file,
        usage: compact({ limit: r.num(dir, 'memory.max') ?? 0, usage: r.num(dir, 'memory.current'), max: r.num(dir, 'memory.peak'), failcnt: events.max ?? 0 }, ['limit', 'failcnt']),
        swap: compact({ limit: r.num(dir, 'memory.swap.max') ?? 0, usage: r.num(dir, 'memory.swap.current'), failcnt: 0 }, ['limit', 'failcnt']),
        kernel: { limit: 0, failcnt: 0 },
        kernelTCP: { limit: 0, failcnt: 0 },
        raw: Object.keys(raw).length > 0 ? raw : undefined,
      },
      ['usage', 'swap', 'kernel', 'kernelTCP'],
    ),
    pids: compact({ current: r.num(dir, 'pids.current'), limit: r.num(dir, 'pids.max', 0) }),
    blkio: compact({ ioServiceBytesRecursive: io.bytes, ioServicedRecursive: io.ios }),
    hugetlb: hugetlbStats(r, dir, true, fs),
    intel_rdt: {},
    network_interfaces: null,
  };
}
