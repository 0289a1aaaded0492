import { check, fn } from './libc.js';

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
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
