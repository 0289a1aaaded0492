// Pure tests: mountinfo and /proc/self/cgroup parsing, mode detection.
import { describe, expect, it } from 'vitest';
import {
  CgroupError,
  canEnforceDeviceRules,
  detectCgroupMode,
  ownCgroupIn,
  parseMountinfo,
  parseProcCgroup,
} from '../../src/runtime/cgroups/index.js';

// This machine (kernel 6.18, hybrid): cpu and cpuacct are separate hierarchies.
const HYBRID = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// A typical systemd distribution with cgroup v2 only.
const PURE_V2 = `24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
29 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

// Older systemd v1 layout: co-mounted controllers, optional fields, xattr, release_agent.
const PURE_V1 = `25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpuset,clone_children
`;

describe('parseMountinfo', () => {
  it('reads device, root, mount point, options, type and super options, with optional fields', () => {
    const e = parseMountinfo(PURE_V1);
    expect(e[1]).toEqual({
      device: '0:23',
      root: '/',
      mountPoint: '/sys/fs/cgroup/systemd',
      mountOptions: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'],
      optionalFields: ['shared:10'],
      fsType: 'cgroup',
      superOptions: ['rw', 'xattr', 'release_agent=/usr/lib/systemd/systemd-cgroups-agent', 'name=systemd'],
    });
  });

  it('unescapes octal escapes in paths', () => {
    const [e] = parseMountinfo('50 31 0:40 /a\\040b /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n');
    expect(e!.root).toBe('/a b');
    expect(e!.mountPoint).toBe('/mnt/my cg');
  });
});

describe('detectCgroupMode', () => {
  it('hybrid: every v1 controller by name, name=systemd, and the unified cgroup2 mount', () => {
    const l = detectCgroupMode(HYBRID);
    expect(l.mode).toBe('hybrid');
    expect(l.v1.map((h) => h.key)).toEqual([
      'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'name=systemd',
    ]);
    expect(l.controllers['memory']!.mountPoint).toBe('/sys/fs/cgroup/memory');
    expect(l.controllers['name=systemd']!.mountPoint).toBe('/sys/fs/cgroup/systemd');
    expect(l.controllers['cpu']).not.toBe(l.controllers['cpuacct']);
    expect(l.unified).toEqual({ key: 'unified', kind: 'v2', controllers: [], mountPoint: '/sys/fs/cgroup/unified', root: '/' });
    expect(canEnforceDeviceRules(l)).toBe(true);
  });

  it('pure v2', () => {
    const l = detectCgroupMode(PURE_V2);
    expect(l.mode).toBe('v2');
    expect(l.v1).toEqual([]);
    expect(l.controllers).toEqual({});
    expect(l.unified?.mountPoint).toBe('/sys/fs/cgroup');
    // No devices files on v2: the rules need an eBPF program, so it depends on whether bpf(2) works here.
    expect(canEnforceDeviceRules(l, () => true)).toBe(true);
    expect(canEnforceDeviceRules(l, () => false)).toBe(false);
  });

  it('pure v1 with co-mounted controllers: one hierarchy, reachable by each controller name', () => {
    const l = detectCgroupMode(PURE_V1);
    expect(l.mode).toBe('v1');
    expect(l.unified).toBeUndefined();
    expect(l.v1.map((h) => h.key)).toEqual(['name=systemd', 'cpu,cpuacct', 'net_cls,net_prio', 'memory', 'cpuset']);
    expect(l.controllers['cpu']).toBe(l.controllers['cpuacct']);
    expect(l.controllers['cpu']!.controllers).toEqual(['cpu', 'cpuacct']);
    expect(l.controllers['cpuset']!.key).toBe('cpuset'); // clone_children is an option, not a controller
    expect(canEnforceDeviceRules(l, () => true)).toBe(false); // no devices hierarchy, and v1 has no eBPF filter
  });

  it('a hierarchy mounted twice is listed once, preferring the mount of the whole hierarchy', () => {
    const text = `90 80 0:32 /docker/abc /rootfs/sys/fs/cgroup/memory ro - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
`;
    const l = detectCgroupMode(text);
    expect(l.v1).toHaveLength(1);
    expect(l.controllers['memory']).toMatchObject({ mountPoint: '/sys/fs/cgroup/memory', root: '/' });
  });

  it('keeps the mount root of a bind-mounted subtree (inside a container)', () => {
    const l = detectCgroupMode('35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n');
    expect(l.controllers['memory']!.root).toBe('/docker/abc');
  });

  it('fails clearly without any cgroup mount', () => {
    expect(() => detectCgroupMode('22 27 0:21 / /proc rw - proc proc rw\n')).toThrow(CgroupError);
    expect(() => detectCgroupMode('')).toThrow(/no cgroup filesystem/);
  });
});

describe('parseProcCgroup / ownCgroupIn', () => {
  const OWN = `9:name=systemd:/
8:pids:/
4:memory:/process_api/5299
2:cpu,cpuacct:/user.slice
0::/init.scope
`;
  it('parses hierarchy id, controllers and path', () => {
    const e = parseProcCgroup(OWN);
    expect(e).toHaveLength(5);
    expect(e[2]).toEqual({ id: 4, controllers: ['memory'], path: '/process_api/5299' });
    expect(e[4]).toEqual({ id: 0, controllers: [], path: '/init.scope' });
  });

  it('finds the line of a hierarchy by its controllers, and the cgroup2 line', () => {
    const e = parseProcCgroup(OWN);
    const l = detectCgroupMode(PURE_V1 + '40 25 0:40 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n');
    expect(ownCgroupIn(e, l.controllers['memory']!)).toBe('/process_api/5299');
    expect(ownCgroupIn(e, l.controllers['cpuacct']!)).toBe('/user.slice');
    expect(ownCgroupIn(e, l.controllers['name=systemd']!)).toBe('/');
    expect(ownCgroupIn(e, l.unified!)).toBe('/init.scope');
    expect(ownCgroupIn(e, l.controllers['cpuset']!)).toBeUndefined();
  });

  it('keeps paths that contain colons', () => {
    expect(parseProcCgroup('0::/a:b\n')[0]!.path).toBe('/a:b');
  });
});
