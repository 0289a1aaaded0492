import { check, fn, koffi } from './libc.js';

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const O_DIRECTORY = 0o200000;
export const O_NONBLOCK = 0o4000;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const CLOSE_RANGE_CLOEXEC = 4;
export const LOCK_EX = 2;
export const LOCK_NB = 4;

const SYS_CLOSE_RANGE = 436;

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function mknod(path: string, mode: number, dev: bigint): void {
  check(fn('int mknod(const char *path, uint32_t mode, uint64_t dev)')(path, mode, dev), 'mknod', path);
}

export function symlink(target: string, linkPath: string): void {
  check(fn('int symlink(const char *target, const char *linkpath)')(target, linkPath), 'symlink', linkPath);
}

export function open(path: string, flags: number, mode = 0): number {
  return check(fn('int open(const char *path, int flags, uint32_t mode)')(path, flags, mode), 'open', path);
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(fn('int openat(int dirfd, const char *path, int flags, uint32_t mode)')(dirfd, path, flags, mode), 'openat', path);
}

export function close(fd: number): void {
  check(fn('int close(int fd)')(fd), 'close');
}

/** close(2) whose failure does not matter (an fd given up on an error path, or at the end of a session). */
export function closeQuietly(fd: number): void {
  fn('int close(int fd)')(fd);
}

export function fcntl(fd: number, cmd: number, arg = 0): number {
  return check(fn('int fcntl(int fd, int cmd, int arg)')(fd, cmd, arg), 'fcntl');
}

export function setCloexec(fd: number, on: boolean): void {
  fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

export function closeRange(first: number, last: number, flags: number): void {
  const call = fn('long syscall(long nr, unsigned int first, unsigned int last, unsigned int flags)');
  check(call(SYS_CLOSE_RANGE, first, last, flags), 'close_range');
}

export function flock(fd: number, operation: number, path?: string): void {
  check(fn('int flock(int fd, int operation)')(fd, operation), 'flock', path);
}

export function umask(mask: number): number {
  return fn('uint32_t umask(uint32_t mask)')(mask) as number;
}

export function chdir(path: string): void {
  check(fn('int chdir(const char *path)')(path), 'chdir', path);
}

export function fchdir(fd: number): void {
  check(fn('int fchdir(int fd)')(fd), 'fchdir');
}

export function dup2(oldFd: number, newFd: number): void {
  check(fn('int dup2(int oldfd, int newfd)')(oldFd, newFd), 'dup2');
}

/** read(2) into `buf`; returns the byte count (0 at end of file). A non-blocking fd with nothing to read throws EAGAIN. */
export function read(fd: number, buf: Buffer, path?: string): number {
  return check(fn('long read(int fd, uint8_t *buf, size_t count)')(fd, buf, buf.length), 'read', path);
}

/** write(2) of `data` in one call; returns the byte count the kernel took. */
export function write(fd: number, data: Buffer | string, path?: string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return check(fn('long write(int fd, const uint8_t *buf, size_t count)')(fd, bytes, bytes.length), 'write', path);
}

/**
 * read(2) and write(2) as libc returns them: -1 with errno() set, no exception. For loops on a
 * non-blocking fd, where EAGAIN is the usual answer, not an error.
 */
export function readRaw(fd: number, buf: Buffer, count = buf.length): number {
  return Number(fn('long read(int fd, void *buf, size_t count)')(fd, buf, count));
}

export function writeRaw(fd: number, buf: Buffer, count = buf.length): number {
  return Number(fn('long write(int fd, const void *buf, size_t count)')(fd, buf, count));
}

export function unlink(path: string): void {
  check(fn('int unlink(const char *path)')(path), 'unlink', path);
}

/** Watches `fd` from the event loop with libuv's poll (koffi.node.poll), which makes the fd non-blocking. */
export function pollFd(fd: number, want: PollWanted, onEvents: (ev: PollEvents) => void): FdPoll {
  return koffi.node.poll(fd, want, onEvents);
}

type PollWanted = { readable?: boolean; writable?: boolean; disconnect?: boolean };
type PollEvents = { readable: boolean; writable: boolean; disconnect: boolean };
export type FdPoll = ReturnType<typeof koffi.node.poll>;
