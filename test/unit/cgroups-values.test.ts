// Pure tests: OCI resources -> cgroup file values (v1 and v2), device rules.
import { describe, expect, it } from 'vitest';
import {
  CgroupError,
  DEFAULT_ALLOWED_DEVICES,
  controllersNeeded,
  cpuMaxValue,
  cpuSharesToWeight,
  deviceRuleString,
  effectiveDeviceRules,
  hintFor,
  pidsMaxValue,
  planUnified,
  planV1,
  planV1Cpu,
  planV1Memory,
  planV2,
  planV2Memory,
  swapMaxValue,
  kernelMemoryWarning,
  v1DeviceWrites,
  type CgroupWrite,
} from '../../src/runtime/cgroups/index.js';

const MiB = 1024 * 1024;
const fv = (ws: CgroupWrite[]) => ws.map((w) => `${w.file}=${w.value}`);

describe('v1 memory', () => {
  it('limit alone', () => {
    expect(fv(planV1Memory({ limit: 32 * MiB }, { memswAvailable: true }))).toEqual(['memory.limit_in_bytes=33554432']);
  });

  it('limit and memsw on a new cgroup (unlimited now): limit first, then memsw', () => {
    expect(fv(planV1Memory({ limit: 32 * MiB, swap: 64 * MiB }, { memswAvailable: true }))).toEqual([
      'memory.limit_in_bytes=33554432',
      'memory.memsw.limit_in_bytes=67108864',
    ]);
  });

  it('raising both above the current limit: memsw first so memsw >= limit at every step', () => {
    const ws = planV1Memory({ limit: 128 * MiB, swap: 256 * MiB }, { memswAvailable: true, currentLimit: BigInt(32 * MiB) });
    expect(fv(ws)).toEqual(['memory.memsw.limit_in_bytes=268435456', 'memory.limit_in_bytes=134217728']);
  });

  it('lowering both: limit first', () => {
    const ws = planV1Memory({ limit: 32 * MiB, swap: 64 * MiB }, { memswAvailable: true, currentLimit: BigInt(128 * MiB) });
    expect(fv(ws)).toEqual(['memory.limit_in_bytes=33554432', 'memory.memsw.limit_in_bytes=67108864']);
  });

  it('-1 without swap means unlimited memory and swap: memsw -1 written first', () => {
    expect(fv(planV1Memory({ limit: -1 }, { memswAvailable: true, currentLimit: BigInt(16 * MiB) }))).toEqual([
      'memory.memsw.limit_in_bytes=-1',
      'memory.limit_in_bytes=-1',
    ]);
    expect(fv(planV1Memory({ limit: -1 }, { memswAvailable: false }))).toEqual(['memory.limit_in_bytes=-1']);
  });

  it('skips swap without swap accounting (no memsw file)', () => {
    expect(fv(planV1Memory({ limit: 32 * MiB, swap: 64 * MiB }, { memswAvailable: false }))).toEqual([
      'memory.limit_in_bytes=33554432',
    ]);
  });

  it('reservation, swappiness, OOM killer', () => {
    const ws = planV1Memory({ reservation: 16 * MiB, swappiness: 10, disableOOMKiller: true }, { memswAvailable: true });
    expect(fv(ws)).toEqual(['memory.soft_limit_in_bytes=16777216', 'memory.swappiness=10', 'memory.oom_control=1']);
    expect(fv(planV1Memory({ swappiness: -1, disableOOMKiller: false }, { memswAvailable: true }))).toEqual([]);
  });

  it('rejects swap < limit and nonsense values, before writing anything', () => {
    expect(() => planV1Memory({ limit: 64 * MiB, swap: 32 * MiB }, { memswAvailable: true })).toThrow(/memory\+swap/);
    expect(() => planV1Memory({ limit: -5 }, { memswAvailable: true })).toThrow(CgroupError);
    expect(() => planV1Memory({ swappiness: 101 }, { memswAvailable: true })).toThrow(/0\.\.100/);
  });
});

describe('v1 cpu', () => {
  it('shares (read back), period, quota, realtime, idle', () => {
    const ws = planV1Cpu({ shares: 512, quota: 50000, period: 100000, realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 0 });
    expect(fv(ws)).toEqual([
      'cpu.shares=512',
      'cpu.cfs_period_us=100000',
      'cpu.cfs_quota_us=50000',
      'cpu.rt_period_us=1000000',
      'cpu.rt_runtime_us=950000',
      'cpu.idle=0',
    ]);
    expect(ws[0]!.verifyReadBack).toBe(true);
    expect(ws[1]!.retryLaterOnEinval).toBe(true);
  });

  it('quota -1 is written as -1 (no limit); period alone does not retry', () => {
    expect(fv(planV1Cpu({ quota: -1 }))).toEqual(['cpu.cfs_quota_us=-1']);
    expect(planV1Cpu({ period: 50000 })[0]!.retryLaterOnEinval).toBe(false);
  });
});

describe('pids', () => {
  it('positive limit as is; 0 and negative mean max', () => {
    expect(pidsMaxValue(5)).toBe('5');
    expect(pidsMaxValue(-1)).toBe('max');
    expect(pidsMaxValue(0)).toBe('max');
  });
});

describe('devices', () => {
  it('rule text: wildcards for missing/-1 numbers, type a by default', () => {
    expect(deviceRuleString({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' })).toBe('c 1:3 rwm');
    expect(deviceRuleString({ allow: false, access: 'rwm' })).toBe('a *:* rwm');
    expect(deviceRuleString({ allow: true, type: 'c', major: 136, minor: -1, access: 'rw' })).toBe('c 136:* rw');
  });

  it('rejects bad rules with the index', () => {
    expect(() => v1DeviceWrites([{ allow: true, access: '' }])).toThrow(/devices\[0\].*access/);
    expect(() => v1DeviceWrites([{ allow: true, access: 'rwx' }])).toThrow(CgroupError);
    expect(() => v1DeviceWrites([{ allow: true, type: 'x' as 'a', access: 'r' }])).toThrow(/type/);
  });

  it('deny all, then the user rules in order, then runc\'s default allow list', () => {
    const rules = effectiveDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }]);
    const ws = v1DeviceWrites(rules, 2);
    expect(fv(ws)).toEqual([
      'devices.deny=a',
      'devices.deny=a *:* rwm',
      'devices.allow=c 10:229 rw',
      'devices.allow=c *:* m',
      'devices.allow=b *:* m',
      'devices.allow=c 1:3 rwm',
      'devices.allow=c 1:8 rwm',
      'devices.allow=c 1:7 rwm',
      'devices.allow=c 5:0 rwm',
      'devices.allow=c 1:5 rwm',
      'devices.allow=c 1:9 rwm',
      'devices.allow=c 136:* rwm',
      'devices.allow=c 5:2 rwm',
    ]);
  });

  it('default list covers null zero full random urandom tty ptmx pts', () => {
    const s = DEFAULT_ALLOWED_DEVICES.map((r) => deviceRuleString(r));
    for (const d of ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm']) {
      expect(s).toContain(d);
    }
  });
});

describe('full v1 plan', () => {
  it('order cpuset, devices, memory, cpu, pids; devices always present', () => {
    const ws = planV1(
      { cpu: { cpus: '0', mems: '0', shares: 1024 }, memory: { limit: MiB }, pids: { limit: 5 } },
      { memswAvailable: true },
    );
    const controllers = [...new Set(ws.map((w) => w.controller))];
    expect(controllers).toEqual(['cpuset', 'devices', 'memory', 'cpu', 'pids']);
    expect(fv(planV1(undefined, { memswAvailable: true }))[0]).toBe('devices.deny=a');
  });

  it('refuses linux.resources.unified', () => {
    expect(() => planV1({ unified: { 'memory.high': '1M' } }, { memswAvailable: true })).toThrow(/unified/);
  });
});

describe('v2 conversions', () => {
  it('cpu.shares -> cpu.weight', () => {
    expect(cpuSharesToWeight(0)).toBe(0);
    expect(cpuSharesToWeight(2)).toBe(1);
    expect(cpuSharesToWeight(1024)).toBe(39);
    expect(cpuSharesToWeight(262144)).toBe(10000);
    expect(cpuSharesToWeight(1)).toBe(1); // clamped like the v1 kernel does
    expect(cpuSharesToWeight(10_000_000)).toBe(10000);
  });

  it('cpu.max', () => {
    expect(cpuMaxValue(undefined, undefined)).toBeUndefined();
    expect(cpuMaxValue(50000, 100000)).toBe('50000 100000');
    expect(cpuMaxValue(-1, 100000)).toBe('max 100000');
    expect(cpuMaxValue(undefined, 100000)).toBe('max 100000');
    expect(cpuMaxValue(20000, undefined)).toBe('20000');
  });

  it('memory.swap.max = swap - limit', () => {
    expect(swapMaxValue(64 * MiB, 32 * MiB)).toBe(String(32 * MiB));
    expect(swapMaxValue(32 * MiB, 32 * MiB)).toBe('0');
    expect(swapMaxValue(-1, 32 * MiB)).toBe('max');
    expect(swapMaxValue(undefined, -1)).toBe('max');
    expect(swapMaxValue(undefined, 32 * MiB)).toBeUndefined();
    expect(() => swapMaxValue(64 * MiB, undefined)).toThrow(/without memory.limit/);
    expect(() => swapMaxValue(16 * MiB, 32 * MiB)).toThrow(/memory\+swap/);
  });

  it('memory plan: swap first, "max" for -1, low from reservation; missing swap file is ok for max/0', () => {
    const ws = planV2Memory({ limit: 32 * MiB, swap: 64 * MiB, reservation: 8 * MiB });
    expect(fv(ws)).toEqual(['memory.swap.max=33554432', 'memory.max=33554432', 'memory.low=8388608']);
    expect(ws[0]!.optional).toBe(false);
    const unlimited = planV2Memory({ limit: -1 });
    expect(fv(unlimited)).toEqual(['memory.swap.max=max', 'memory.max=max']);
    expect(unlimited[0]!.optional).toBe(true);
  });

  it('full plan and the controllers it needs', () => {
    const ws = planV2({
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1' },
      memory: { limit: 32 * MiB },
      pids: { limit: -1 },
      unified: { 'memory.high': '30000000', 'cgroup.max.descendants': '10' },
    });
    expect(fv(ws)).toEqual([
      'cpuset.cpus=0-1',
      'memory.max=33554432',
      'cpu.weight=39',
      'cpu.max=50000 100000',
      'pids.max=max',
      'memory.high=30000000',
      'cgroup.max.descendants=10',
    ]);
    expect(controllersNeeded(ws).sort()).toEqual(['cpu', 'cpuset', 'memory', 'pids']);
    expect(planV2(undefined)).toEqual([]);
  });

  it('rejects realtime and odd unified keys', () => {
    expect(() => planV2({ cpu: { realtimeRuntime: 1000 } })).toThrow(/realtime/);
    expect(() => planUnified({ '../x': '1' })).toThrow(CgroupError);
    expect(() => planUnified({ 'memory/x.max': '1' })).toThrow(CgroupError);
  });
});

describe('misc', () => {
  it('kernel memory settings are named in a warning, as runc warns, never applied', () => {
    expect(kernelMemoryWarning({ memory: { kernel: 1, kernelTCP: 2 } })).toMatch(
      /^Kernel memory settings are ignored.*linux\.resources\.memory\.kernel, linux\.resources\.memory\.kernelTCP/,
    );
    expect(fv(planV1({ memory: { kernel: 1 } }, { memswAvailable: true, skipDevices: true }))).toEqual([]);
    expect(kernelMemoryWarning({ memory: { limit: 1 } })).toBeUndefined();
    expect(kernelMemoryWarning(undefined)).toBeUndefined();
  });

  it('hints explain errno per file', () => {
    expect(hintFor('/x/cpuset.cpus', 'ENOSPC')).toMatch(/cpuset.cpus .*empty.*copy the parent/);
    expect(hintFor('/x/cgroup.procs', 'ENOSPC')).toMatch(/empty/);
    expect(hintFor('/x/memory.memsw.limit_in_bytes', 'EINVAL')).toMatch(/memory\+swap/);
    expect(hintFor('/x/cgroup.procs', 'ESRCH', '42')).toMatch(/pid 42/);
    expect(hintFor('/x/cgroup.subtree_control', 'EBUSY')).toMatch(/no internal processes/);
  });
});
