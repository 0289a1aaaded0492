import { check, fn } from './libc.js';

// Mount flags and mount_setattr(2) attributes (include/uapi/linux/mount.h).
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_SYNCHRONOUS = 16;
export const MS_REMOUNT = 32;
export const MS_MANDLOCK = 64;
export const MS_DIRSYNC = 128;
export const MS_NOSYMFOLLOW = 256;
export const MS_NOATIME = 1024;
export const MS_NODIRATIME = 2048;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_SILENT = 32768;
export const MS_POSIXACL = 1 << 16;
export const MS_UNBINDABLE = 1 << 17;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MS_RELATIME = 1 << 21;
export const MS_I_VERSION = 1 << 23;
export const MS_STRICTATIME = 1 << 24;
export const MS_LAZYTIME = 1 << 25;
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_RELATIME = 0x0;
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR_NODIRATIME = 0x80;
export const MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

export const MNT_DETACH = 2;

const SYS_PIVOT_ROOT = 155; // x86-64; glibc has no wrapper

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  const call = fn('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
  check(call(source, target, fstype, flags, data), 'mount', target);
}

export function umount2(target: string, flags: number): void {
  check(fn('int umount2(const char *target, int flags)')(target, flags), 'umount2', target);
}

export function pivotRoot(newRoot: string, putOld: string): void {
  const call = fn('long syscall(long nr, const char *new_root, const char *put_old)');
  check(call(SYS_PIVOT_ROOT, newRoot, putOld), 'pivot_root', newRoot);
}

export function chroot(path: string): void {
  check(fn('int chroot(const char *path)')(path), 'chroot', path);
}

const SYS_MOUNT_SETATTR = 442;
const AT_FDCWD = -100;
const AT_RECURSIVE = 0x8000;

/** Sets and clears MOUNT_ATTR_* flags on a mount and every mount below it. */
export function mountSetattrRecursive(target: string, attrSet: number, attrClear: number): void {
  // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd }
  const attr = Buffer.alloc(32);
  attr.writeBigUInt64LE(BigInt(attrSet), 0);
  attr.writeBigUInt64LE(BigInt(attrClear), 8);
  const call = fn('long syscall(long nr, int dirfd, const char *path, unsigned int flags, uint8_t *attr, size_t size)');
  check(call(SYS_MOUNT_SETATTR, AT_FDCWD, target, AT_RECURSIVE, attr, attr.length), 'mount_setattr', target);
}
