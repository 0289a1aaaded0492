// Pure tests: where the container's cgroup goes in each hierarchy (runc's cgroupfs-driver rules).
import { describe, expect, it } from 'vitest';
import {
  CgroupError,
  cleanCgroupSegments,
  detectCgroupMode,
  isSystemdCgroupsPath,
  parseProcCgroup,
  resolveCgroupPaths,
  type CgroupLayout,
} from '../../src/runtime/cgroups/index.js';

const HYBRID = detectCgroupMode(`32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
`);
const HYBRID_OWN = parseProcCgroup(`9:name=systemd:/
4:memory:/process_api/abc
1:cpu:/
0::/
`);
const V2 = detectCgroupMode('29 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n');
const V2_OWN = parseProcCgroup('0::/user.slice/user-0.slice/session-1.scope\n');

function dirs(layout: CgroupLayout, own: ReturnType<typeof parseProcCgroup>, cgroupsPath?: string, id = 'ctr1') {
  return Object.fromEntries(resolveCgroupPaths({ layout, id, cgroupsPath, own }).map((h) => [h.key, h.dir]));
}

describe('resolveCgroupPaths on a hybrid machine', () => {
  it('unset: <own cgroup>/<id> in every hierarchy, unified included', () => {
    expect(dirs(HYBRID, HYBRID_OWN)).toEqual({
      cpu: '/sys/fs/cgroup/cpu/ctr1',
      memory: '/sys/fs/cgroup/memory/process_api/abc/ctr1',
      'name=systemd': '/sys/fs/cgroup/systemd/ctr1',
      unified: '/sys/fs/cgroup/unified/ctr1',
    });
  });

  it('relative: below the own cgroup (hybrid unified too: it has no controllers to worry about)', () => {
    expect(dirs(HYBRID, HYBRID_OWN, 'tslab/ctr1')).toMatchObject({
      memory: '/sys/fs/cgroup/memory/process_api/abc/tslab/ctr1',
      unified: '/sys/fs/cgroup/unified/tslab/ctr1',
    });
  });

  it('absolute: from each hierarchy root, whatever our own cgroup is', () => {
    expect(dirs(HYBRID, HYBRID_OWN, '/libpod_parent/libpod-123')).toEqual({
      cpu: '/sys/fs/cgroup/cpu/libpod_parent/libpod-123',
      memory: '/sys/fs/cgroup/memory/libpod_parent/libpod-123',
      'name=systemd': '/sys/fs/cgroup/systemd/libpod_parent/libpod-123',
      unified: '/sys/fs/cgroup/unified/libpod_parent/libpod-123',
    });
  });

  it('cleans "." and duplicate slashes, and allows ".." that stays inside', () => {
    expect(dirs(HYBRID, HYBRID_OWN, '/a//./b/../c/')['cpu']).toBe('/sys/fs/cgroup/cpu/a/c');
    expect(dirs(HYBRID, HYBRID_OWN, 'x/../y')['memory']).toBe('/sys/fs/cgroup/memory/process_api/abc/y');
  });

  it('rejects ".." escaping, the root, the own cgroup, and systemd syntax', () => {
    expect(() => dirs(HYBRID, HYBRID_OWN, '../../etc')).toThrow(/climb out/);
    expect(() => dirs(HYBRID, HYBRID_OWN, '/a/../../b')).toThrow(/climb out/);
    expect(() => dirs(HYBRID, HYBRID_OWN, '/')).toThrow(/root cgroup/);
    expect(() => dirs(HYBRID, HYBRID_OWN, '.')).toThrow(/own cgroup/);
    expect(() => dirs(HYBRID, HYBRID_OWN, 'system.slice:docker:abc')).toThrow(/systemd cgroup driver not supported/);
    expect(() => dirs(HYBRID, HYBRID_OWN, 'system.slice:docker:abc')).toThrow(CgroupError);
  });

  it('rejects an id that is not a directory name when the path is unset', () => {
    expect(() => dirs(HYBRID, HYBRID_OWN, undefined, '..')).toThrow(CgroupError);
    expect(() => dirs(HYBRID, HYBRID_OWN, undefined, 'a/b')).toThrow(CgroupError);
  });

  it('fails when /proc/self/cgroup lacks a hierarchy (relative path only)', () => {
    const own = parseProcCgroup('4:memory:/x\n0::/\n');
    expect(() => dirs(HYBRID, own)).toThrow(/no line for the cpu hierarchy/);
    expect(dirs(HYBRID, own, '/abs')['cpu']).toBe('/sys/fs/cgroup/cpu/abs');
  });
});

describe('resolveCgroupPaths on pure v2', () => {
  it('relative/unset: below the PARENT of our own cgroup (runc: the own cgroup holds processes)', () => {
    expect(dirs(V2, V2_OWN)).toEqual({ unified: '/sys/fs/cgroup/user.slice/user-0.slice/ctr1' });
    expect(dirs(V2, V2_OWN, 'a/b')).toEqual({ unified: '/sys/fs/cgroup/user.slice/user-0.slice/a/b' });
  });

  it('absolute: from the root', () => {
    expect(dirs(V2, V2_OWN, '/machine/ctr1')).toEqual({ unified: '/sys/fs/cgroup/machine/ctr1' });
  });

  it('own cgroup at the root stays at the root', () => {
    expect(dirs(V2, parseProcCgroup('0::/\n'))).toEqual({ unified: '/sys/fs/cgroup/ctr1' });
  });
});

describe('mount roots (a bind-mounted subtree, e.g. inside a container)', () => {
  const layout = detectCgroupMode('35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n');
  it('strips the mount root from our own path', () => {
    const own = parseProcCgroup('4:memory:/docker/abc/sub\n');
    expect(dirs(layout, own)).toEqual({ memory: '/sys/fs/cgroup/memory/sub/ctr1' });
  });
  it('fails clearly if our cgroup is outside the mounted part', () => {
    const own = parseProcCgroup('4:memory:/elsewhere\n');
    expect(() => dirs(layout, own)).toThrow(/outside the part of it mounted/);
  });
});

describe('helpers', () => {
  it('cleanCgroupSegments', () => {
    expect(cleanCgroupSegments('/a/./b//c/..')).toEqual(['a', 'b']);
    expect(() => cleanCgroupSegments('a/../..')).toThrow(CgroupError);
  });
  it('isSystemdCgroupsPath', () => {
    expect(isSystemdCgroupsPath('system.slice:docker:abc')).toBe(true);
    expect(isSystemdCgroupsPath(':runc:abc')).toBe(true);
    expect(isSystemdCgroupsPath('/a:b:c')).toBe(false);
    expect(isSystemdCgroupsPath('a/b')).toBe(false);
  });
});
