// openat2(2): opening a path with the kernel itself keeping the walk inside a directory. glibc 2.36 has no
// wrapper, so it goes through syscall(2); struct open_how is three u64s (flags, mode, resolve).
import { check, fn } from './libc.js';

const SYS_OPENAT2 = 437; // the same number on every architecture (added in Linux 5.6, after the syscall tables were unified)

export const O_PATH = 0o10000000;
export const O_NOCTTY = 0o400;

/** Treat the directory as the root: absolute symlinks and `..` stay inside it, as after chroot(2). */
export const RESOLVE_IN_ROOT = 0x10;
/** No /proc/<pid>/fd-style magic links anywhere on the way. */
export const RESOLVE_NO_MAGICLINKS = 0x02;

/** openat2(dirfd, path, {flags, mode, resolve}); returns the new fd. `what` names the path in an error. */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0, what: string = path): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const call = fn('long syscall(long nr, int dirfd, const char *path, void *how, size_t size)');
  return check(call(SYS_OPENAT2, dirfd, path, how, how.length), 'openat2', what);
}
