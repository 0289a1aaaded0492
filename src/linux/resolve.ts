// Path resolution done by the kernel rather than by string manipulation: openat2(2) can confine a lookup
// to a directory (RESOLVE_IN_ROOT: "/" and ".." stop there, as after chroot; RESOLVE_BENEATH: a way out is
// EXDEV) and refuse /proc's magic links (RESOLVE_NO_MAGICLINKS: /proc/self/fd/N, /proc/N/cwd, /proc/N/root
// name files by fd, not by path, and so lead anywhere). Also the few fd-based calls that go with it:
// mkdirat, fstatfs, and the dumpable flag.
import type { Stats } from 'node:fs';
import { check, fn } from './libc.js';

export const O_PATH = 0o10000000;
export const O_NOCTTY = 0o400;

export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

/** statfs(2) f_type of procfs (nsfs's is in nsfs.ts). */
export const PROC_SUPER_MAGIC = 0x9fa0;

const SYS_OPENAT2 = 437;
const PR_SET_DUMPABLE = 4;

/** openat2(2): `path` looked up from `dirfd` under the RESOLVE_* rules in `resolve`; `what` names it in an error. */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0, what: string = path): number {
  // struct open_how { u64 flags; u64 mode; u64 resolve; }
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const call = fn('long syscall(long nr, int dirfd, const char *path, uint8_t *how, size_t size)');
  return check(call(SYS_OPENAT2, dirfd, path, how, how.length), 'openat2', what);
}

export function mkdirat(dirfd: number, path: string, mode: number): void {
  check(fn('int mkdirat(int dirfd, const char *path, uint32_t mode)')(dirfd, path, mode), 'mkdirat', path);
}

/** The filesystem type (statfs f_type, e.g. NSFS_MAGIC) of what `fd` refers to. */
export function fstatfsType(fd: number, path?: string): number {
  // struct statfs on x86-64 is 120 bytes; f_type is its first field, a long.
  const buf = Buffer.alloc(120);
  check(fn('int fstatfs(int fd, uint8_t *buf)')(fd, buf), 'fstatfs', path);
  return Number(buf.readBigInt64LE(0));
}

/**
 * PR_SET_DUMPABLE: a non-dumpable process's /proc/PID/{fd,exe,cwd,root,environ,mem} are reachable only
 * with CAP_SYS_PTRACE (the process itself excepted). execve() makes a process dumpable again.
 */
export function setDumpable(on: boolean): void {
  const call = fn('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
  check(call(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0), 'prctl(PR_SET_DUMPABLE)');
}

/** What a file is, for a sentence about a path that should have been something else: "a FIFO (named pipe)"... */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'an unknown kind of file';
}
