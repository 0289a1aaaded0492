// Namespace files (nsfs): /proc/<pid>/ns/* and the bind mounts `ip netns add` makes of them.
// A path from config.json may name anything; opening it blocking would hang on a FIFO, and setns(2) on the
// wrong file only fails late. These calls open without blocking and ask the kernel what the file is.
import { check, fn } from './libc.js';
import { SyscallError } from './error.js';
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, close } from './fs.js';

/** statfs(2) f_type of the nsfs filesystem (linux/magic.h). */
export const NSFS_MAGIC = 0x6e736673;
/** ioctl(2) on a namespace file: returns its CLONE_NEW* type (linux/nsfs.h, _IO(0xb7, 0x3)). */
export const NS_GET_NSTYPE = 0xb703;

/** struct statfs is 120 bytes on x86-64; f_type is its first field, a long. */
const STATFS_SIZE = 120;

/** The filesystem type (f_type) of what `fd` refers to. */
export function fstatfsType(fd: number, path?: string): number {
  const buf = Buffer.alloc(STATFS_SIZE);
  check(fn('int fstatfs(int fd, _Out_ uint8_t *buf)')(fd, buf), 'fstatfs', path);
  return Number(buf.readBigInt64LE(0));
}

/** The CLONE_NEW* flag of the namespace file `fd` (NS_GET_NSTYPE). */
export function namespaceType(fd: number, path?: string): number {
  return check(fn('int ioctl(int fd, unsigned long request, long arg)')(fd, NS_GET_NSTYPE, 0), 'ioctl(NS_GET_NSTYPE)', path);
}

/**
 * Opens `path` read-only without blocking (a FIFO opens at once instead of waiting for a writer) and
 * returns the fd if it is a namespace file; `expected` (a CLONE_NEW* flag) also checks its type.
 * Throws SyscallError: ENOTNSFS-like failures are reported as EINVAL with a sentence naming the path.
 */
export function openNamespaceFile(path: string, expected?: number): number {
  const fd = check(fn('int open(const char *path, int flags, uint32_t mode)')(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0), 'open', path);
  try {
    if (fstatfsType(fd, path) !== NSFS_MAGIC) {
      throw new SyscallError('open', 22, path, 'this is not a namespace file (like /proc/<pid>/ns/net or a bind mount of one)');
    }
    if (expected !== undefined && namespaceType(fd, path) !== expected) {
      throw new SyscallError('open', 22, path, 'this namespace file is of another type than the one it is given for');
    }
    return fd;
  } catch (err) {
    close(fd);
    throw err;
  }
}
