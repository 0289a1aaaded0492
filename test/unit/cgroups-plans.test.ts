// Pure tests of the plans for blockIO, hugepageLimits, network and rdma (v1 and v2), and of the manager
// naming the setting when this machine cannot apply one.
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CgroupError,
  blkioWeightToIoWeight,
  detectCgroupMode,
  newCgroupManager,
  planHugetlb,
  planNetworkClasses,
  planRdma,
  planV1,
  planV1Blkio,
  planV2,
  planV2Io,
  type CgroupFs,
  type CgroupWrite,
} from '../../src/runtime/cgroups/index.js';

const fv = (ws: CgroupWrite[]) => ws.map((w) => `${w.file}=${w.value}`);

describe('blockIO', () => {
  const io = {
    weight: 500,
    leafWeight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 600, leafWeight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 0 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 200 }],
  };

  it('v1: weight files (CFQ names or BFQ names) and one throttle line per device', () => {
    expect(fv(planV1Blkio(io, false))).toEqual([
      'blkio.weight=500',
      'blkio.leaf_weight=300',
      'blkio.weight_device=8:0 600',
      'blkio.leaf_weight_device=8:0 200',
      'blkio.throttle.read_bps_device=8:0 1048576',
      'blkio.throttle.write_bps_device=8:16 0',
      'blkio.throttle.read_iops_device=8:0 100',
      'blkio.throttle.write_iops_device=8:0 200',
    ]);
    expect(fv(planV1Blkio({ weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 10 }] }, true))).toEqual([
      'blkio.bfq.weight=500',
      'blkio.bfq.weight_device=8:0 10',
    ]);
    expect(planV1Blkio({ weight: 500 }, false)[0]!.setting).toBe('linux.resources.blockIO.weight');
  });

  it('v2: io.weight on its own scale (io.bfq.weight on blkio\'s), io.max with 0 as "max"', () => {
    const { leafWeight: _l, weightDevice: _w, ...noLeaf } = io;
    expect(fv(planV2Io({ ...noLeaf, weightDevice: [{ major: 8, minor: 0, weight: 1000 }] }, false))).toEqual([
      'io.weight=4950',
      'io.weight=8:0 10000',
      'io.max=8:0 rbps=1048576',
      'io.max=8:16 wbps=max',
      'io.max=8:0 riops=100',
      'io.max=8:0 wiops=200',
    ]);
    expect(fv(planV2Io({ weight: 500 }, true))).toEqual(['io.bfq.weight=500']);
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
    expect(() => planV2Io({ leafWeight: 300 }, false)).toThrow(/leafWeight cannot be applied: cgroup v2 has no leaf weight/);
  });
});

describe('hugetlb, network, rdma', () => {
  it('hugepage limits: one file per page size, v1 and v2 names', () => {
    const limits = [{ pageSize: '2MB', limit: 4194304 }, { pageSize: '1GB', limit: 0 }];
    expect(fv(planHugetlb(limits, 'v1'))).toEqual(['hugetlb.2MB.limit_in_bytes=4194304', 'hugetlb.1GB.limit_in_bytes=0']);
    expect(fv(planHugetlb(limits, 'v2'))).toEqual(['hugetlb.2MB.max=4194304', 'hugetlb.1GB.max=0']);
  });

  it('net_cls classid and net_prio ifpriomap on v1; refused on v2, naming the setting', () => {
    const net = { classID: 1048577, priorities: [{ name: 'eth0', priority: 5 }, { name: 'lo', priority: 1 }] };
    expect(fv(planNetworkClasses(net, 'v1'))).toEqual(['net_cls.classid=1048577', 'net_prio.ifpriomap=eth0 5', 'net_prio.ifpriomap=lo 1']);
    expect(() => planNetworkClasses(net, 'v2')).toThrow(/linux\.resources\.network\.classID cannot be applied: cgroup v2 has no net_cls/);
    expect(planNetworkClasses({}, 'v2')).toEqual([]);
  });

  it('rdma.max: one line per device, a missing limit is "max"', () => {
    expect(fv(planRdma({ mlx5_1: { hcaHandles: 3 }, mlx4_0: { hcaHandles: 2, hcaObjects: 2000 } }))).toEqual([
      'rdma.max=mlx5_1 hca_handle=3 hca_object=max',
      'rdma.max=mlx4_0 hca_handle=2 hca_object=2000',
    ]);
  });

  it('the full plans put them after pids, in runc\'s subsystem order', () => {
    const r = { pids: { limit: 5 }, blockIO: { weight: 100 }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }], network: { classID: 1 }, rdma: { d: {} } };
    expect(fv(planV1(r, { memswAvailable: true, skipDevices: true }))).toEqual([
      'pids.max=5', 'blkio.weight=100', 'hugetlb.2MB.limit_in_bytes=0', 'net_cls.classid=1', 'rdma.max=d hca_handle=max hca_object=max',
    ]);
    const { network: _n, ...v2 } = r;
    expect(fv(planV2(v2, { ioBfq: true }))).toEqual(['pids.max=5', 'io.bfq.weight=100', 'hugetlb.2MB.max=0', 'rdma.max=d hca_handle=max hca_object=max']);
  });
});

/** A v1 machine with only the controllers given mounted; every file a test names exists, others do not. */
function v1Machine(controllers: string[], files: string[]) {
  const mountinfo = controllers
    .map((c, i) => `${30 + i} 22 0:${40 + i} / /sys/fs/cgroup/${c} rw - cgroup cgroup rw,${c}`)
    .join('\n');
  const existing = new Set(files);
  const writes: string[] = [];
  const dirs = new Set(controllers.map((c) => `/sys/fs/cgroup/${c}`));
  const fs: CgroupFs = {
    readFile: (p) => {
      if (existing.has(posix.basename(p)) || p.endsWith('cgroup.procs')) return '';
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    },
    writeFile: (p, v) => {
      if (!existing.has(posix.basename(p))) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      writes.push(`${p}=${v}`);
    },
    exists: (p) => dirs.has(p) || existing.has(posix.basename(p)),
    mkdir: (p) => void dirs.add(p),
    rmdir: (p) => void dirs.delete(p),
    listDirs: () => [],
  };
  const own = controllers.map((c, i) => `${i + 1}:${c}:/`).join('\n');
  const m = newCgroupManager({ id: 'c1', layout: detectCgroupMode(mountinfo), ownCgroupFile: own, fs });
  m.create();
  return { m, writes };
}

describe('the manager names what this machine cannot apply', () => {
  it('a controller that is not mounted', () => {
    const { m } = v1Machine(['pids', 'blkio'], ['pids.max', 'blkio.throttle.read_bps_device']);
    expect(() => m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }, { skipDevices: true })).toThrow(
      /linux\.resources\.hugepageLimits\[0\] \(2MB pages\) cannot be applied: the cgroup v1 "hugetlb" controller is not mounted/,
    );
    expect(() => m.apply({ network: { priorities: [{ name: 'lo', priority: 1 }] } }, { skipDevices: true })).toThrow(
      /linux\.resources\.network\.priorities\[0\] cannot be applied: the cgroup v1 "net_prio" controller is not mounted/,
    );
  });

  it('a file the controller lacks (no BFQ weight) is named with the reason', () => {
    const { m, writes } = v1Machine(['pids', 'blkio'], ['pids.max', 'blkio.throttle.read_bps_device']);
    m.apply({ blockIO: { throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }] } }, { skipDevices: true });
    expect(writes).toEqual(['/sys/fs/cgroup/blkio/c1/blkio.throttle.read_bps_device=254:0 1048576']);
    let error: unknown;
    try {
      m.apply({ blockIO: { weight: 500 } }, { skipDevices: true });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CgroupError);
    expect((error as Error).message).toMatch(
      /^linux\.resources\.blockIO\.weight cannot be applied on this machine: \/sys\/fs\/cgroup\/blkio\/c1\/blkio\.weight does not exist \(.*BFQ/,
    );
  });
});
