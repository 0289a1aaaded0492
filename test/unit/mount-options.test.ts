import { describe, expect, it } from 'vitest';
import {
  MOUNT_ATTR_NOATIME,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_RDONLY,
  MOUNT_ATTR__ATIME,
  MS_BIND,
  MS_DIRSYNC,
  MS_LAZYTIME,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from '../../src/linux/mount.js';
import { MountOptionError, knownMountOptions, parseMountOptions, parsePropagation } from '../../src/runtime/init/mount-options.js';

describe('MS_* constants', () => {
  it('have the kernel values', () => {
    expect([MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC, MS_NOSYMFOLLOW]).toEqual([
      1, 2, 4, 8, 16, 32, 64, 128, 256,
    ]);
    expect([MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC]).toEqual([1024, 2048, 4096, 16384]);
    expect([MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_RELATIME]).toEqual([0x20000, 0x40000, 0x80000, 0x100000, 0x200000]);
    expect([MS_STRICTATIME, MS_LAZYTIME]).toEqual([0x1000000, 0x2000000]);
  });
});

describe('parseMountOptions', () => {
  it('parses the default /dev/pts mount: flags and data', () => {
    const o = parseMountOptions(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    expect(o.flags).toBe(MS_NOSUID | MS_NOEXEC);
    expect(o.data).toBe('newinstance,ptmxmode=0666,mode=0620,gid=5');
    expect(o.propagation).toEqual([]);
    expect(o.bind).toBe(false);
    expect(o.recursive).toBe(false);
    expect(o.clearFlags).toBe(0);
  });

  it('parses the default /dev and /sys/fs/cgroup mounts', () => {
    expect(parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'])).toMatchObject({
      flags: MS_NOSUID | MS_STRICTATIME,
      data: 'mode=755,size=65536k',
    });
    expect(parseMountOptions(['nosuid', 'noexec', 'nodev', 'relatime', 'ro']).flags).toBe(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);
  });

  it('lets later options win and records cleared flags', () => {
    const rw = parseMountOptions(['ro', 'rw']);
    expect(rw.flags).toBe(0);
    expect(rw.clearFlags).toBe(MS_RDONLY);
    const ro = parseMountOptions(['rw', 'ro']);
    expect(ro.flags).toBe(MS_RDONLY);
    expect(ro.clearFlags).toBe(0);
    const mixed = parseMountOptions(['nosuid', 'suid', 'dev', 'exec', 'async', 'atime', 'diratime', 'nomand', 'norelatime', 'nostrictatime', 'symfollow', 'nolazytime']);
    expect(mixed.flags).toBe(0);
    expect(mixed.clearFlags).toBe(
      MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_NOATIME | MS_NODIRATIME | MS_MANDLOCK | MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW | MS_LAZYTIME,
    );
  });

  it('knows every flag option', () => {
    const on: [string, number][] = [
      ['sync', MS_SYNCHRONOUS],
      ['dirsync', MS_DIRSYNC],
      ['remount', MS_REMOUNT],
      ['mand', MS_MANDLOCK],
      ['noatime', MS_NOATIME],
      ['nodiratime', MS_NODIRATIME],
      ['nosymfollow', MS_NOSYMFOLLOW],
      ['lazytime', MS_LAZYTIME],
      ['strictatime', MS_STRICTATIME],
      ['nodev', MS_NODEV],
    ];
    for (const [name, flag] of on) {
      const o = parseMountOptions([name]);
      expect(o.flags, name).toBe(flag);
      expect(o.data, name).toBe('');
    }
  });

  it('tells bind from rbind', () => {
    const bind = parseMountOptions(['bind', 'ro']);
    expect(bind).toMatchObject({ bind: true, recursive: false, flags: MS_BIND | MS_RDONLY });
    const rbind = parseMountOptions(['rbind']);
    expect(rbind).toMatchObject({ bind: true, recursive: true, flags: MS_BIND | MS_REC });
  });

  it('collects propagation in order', () => {
    const o = parseMountOptions(['rbind', 'rprivate', 'shared', 'rslave', 'slave', 'runbindable', 'unbindable', 'private', 'rshared']);
    expect(o.propagation).toEqual([
      MS_PRIVATE | MS_REC,
      MS_SHARED,
      MS_SLAVE | MS_REC,
      MS_SLAVE,
      MS_UNBINDABLE | MS_REC,
      MS_UNBINDABLE,
      MS_PRIVATE,
      MS_SHARED | MS_REC,
    ]);
    expect(o.flags).toBe(MS_BIND | MS_REC);
    expect(o.data).toBe('');
  });

  it('puts unknown options, "defaults" and "" into data, as runc does', () => {
    expect(parseMountOptions(['defaults', 'mode=1777', 'size=65536k', 'uid=0']).data).toBe('defaults,mode=1777,size=65536k,uid=0');
    expect(parseMountOptions(['', 'x']).data).toBe(',x');
    expect(parseMountOptions(undefined)).toEqual({
      flags: 0,
      clearFlags: 0,
      propagation: [],
      data: '',
      recursive: false,
      bind: false,
      attrSet: 0,
      attrClear: 0,
      tmpcopyup: false,
    });
  });

  it('reads recursive attributes and tmpcopyup', () => {
    const o = parseMountOptions(['rbind', 'rro', 'rnosuid', 'rnoatime', 'tmpcopyup']);
    expect(o.attrSet).toBe(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
    expect(o.attrClear).toBe(MOUNT_ATTR__ATIME);
    expect(o.tmpcopyup).toBe(true);
    expect(o.flags).toBe(MS_BIND | MS_REC);
    expect(o.data).toBe('');
    expect(parseMountOptions(['rrw']).attrClear).toBe(MOUNT_ATTR_RDONLY);
  });

  it('lists known options', () => {
    const known = knownMountOptions();
    expect(known).toContain('rbind');
    expect(known).toContain('rprivate');
    expect(known).toContain('rro');
    expect(known).not.toContain('');
    expect(known).not.toContain('mode=755');
    expect([...known].sort()).toEqual(known);
  });
});

describe('parsePropagation', () => {
  it('maps names to flags', () => {
    expect(parsePropagation('rprivate')).toBe(MS_PRIVATE | MS_REC);
    expect(parsePropagation('private')).toBe(MS_PRIVATE);
    expect(parsePropagation('rslave')).toBe(MS_SLAVE | MS_REC);
    expect(parsePropagation('slave')).toBe(MS_SLAVE);
    expect(parsePropagation('rshared')).toBe(MS_SHARED | MS_REC);
    expect(parsePropagation('shared')).toBe(MS_SHARED);
    expect(parsePropagation('runbindable')).toBe(MS_UNBINDABLE | MS_REC);
    expect(parsePropagation('unbindable')).toBe(MS_UNBINDABLE);
    expect(parsePropagation('')).toBe(0);
  });

  it('refuses other names with runc\'s words', () => {
    expect(() => parsePropagation('ro')).toThrow(MountOptionError);
    expect(() => parsePropagation('RPRIVATE')).toThrow(/^rootfsPropagation=RPRIVATE is not supported/);
  });
});
