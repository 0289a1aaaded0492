// Reading a file of a directory nobody vouches for (an image's rootfs, an archive's layout directory, a
// container's root): the name may be a symlink to the host's /etc/shadow, a FIFO that never answers, a
// device that never ends, or huge. So the kernel does the lookup, confined to the directory (openat2:
// RESOLVE_IN_ROOT resolves as after chroot, RESOLVE_BENEATH refuses any way out) and never through a /proc
// magic link; only a regular file is read, and no more than a cap.
import * as fs from 'node:fs';
import { SyscallError } from '../linux/error.js';
import { O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_RDONLY, close, open } from '../linux/fs.js';
import { O_NOCTTY, O_PATH, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, fileKind, openat2 } from '../linux/resolve.js';

/** 'in-root': "/" and ".." stop at the directory, as after chroot. 'beneath': a symlink that leads out is refused. */
export type Confinement = 'in-root' | 'beneath';

export type RefusalReason = 'missing' | 'outside' | 'loop' | 'not-regular' | 'too-big';

/** A file tslab refuses to read, with the sentence why. */
export class UnsafeFileError extends Error {
  constructor(
    message: string,
    readonly reason: RefusalReason,
  ) {
    super(message);
    this.name = 'UnsafeFileError';
  }
}

/** An open regular file: read it with readOpened (or fs.createReadStream({ fd })), close it with fs.closeSync. */
export interface OpenedFile {
  fd: number;
  size: number;
}

export interface Lookup {
  confine: Confinement;
  /** Names the file in errors: "the image's /etc/passwd". */
  what: string;
  /** A larger file is refused before it is read. */
  maxBytes?: number;
  /** Names the directory when a symlink leads out of it ('beneath' only): "the archive". */
  within?: string;
}

/** openat2 of `rel` under `dirFd` as `lookup` confines it; the kernel's refusals become UnsafeFileError. */
function lookUp(dirFd: number, rel: string, flags: number, lookup: Lookup): number {
  const resolve = (lookup.confine === 'in-root' ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS;
  try {
    return openat2(dirFd, rel === '' ? '.' : rel, flags | O_CLOEXEC, resolve, 0, lookup.what);
  } catch (err) {
    const code = err instanceof SyscallError ? err.code : undefined;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UnsafeFileError(`${lookup.what} is missing`, 'missing');
    if (code === 'EXDEV') {
      throw new UnsafeFileError(`${lookup.what} is (or goes through) a symlink that leads out of ${lookup.within ?? 'its directory'}, which tslab does not follow`, 'outside');
    }
    if (code === 'ELOOP') throw new UnsafeFileError(`${lookup.what} goes through a /proc magic link or too many symlinks`, 'loop');
    throw err;
  }
}

function checkRegular(st: fs.Stats, what: string, maxBytes: number | undefined): void {
  if (!st.isFile()) throw new UnsafeFileError(`${what} is ${fileKind(st)}, not a regular file`, 'not-regular');
  if (maxBytes !== undefined && st.size > maxBytes) {
    throw new UnsafeFileError(`${what} is ${st.size} bytes, more than the ${maxBytes} tslab reads for it`, 'too-big');
  }
}

/** Reopens an O_PATH fd for reading once it is known to be a regular file of at most `maxBytes`. */
function reopenRegular(pathFd: number, what: string, maxBytes: number | undefined): OpenedFile {
  const st = fs.fstatSync(pathFd);
  checkRegular(st, what, maxBytes);
  // Through the O_PATH fd: the very file just checked, whatever has been renamed since.
  const fd = fs.openSync(`/proc/self/fd/${pathFd}`, fs.constants.O_RDONLY | fs.constants.O_NOCTTY);
  return { fd, size: st.size };
}

/** Opens `rel` of the directory `dir` for reading, if it is a regular file (first looked at through O_PATH, which opens nothing). */
export function openRegularIn(dir: string, rel: string, lookup: Lookup): OpenedFile {
  const dirFd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  let pathFd: number;
  try {
    pathFd = lookUp(dirFd, rel, O_PATH, lookup);
  } finally {
    close(dirFd);
  }
  try {
    return reopenRegular(pathFd, lookup.what, lookup.maxBytes);
  } finally {
    close(pathFd);
  }
}

/** Whether `rel` of `dir` is a regular file, reached as openRegularIn would reach it. */
export function isRegularIn(dir: string, rel: string, confine: Confinement): boolean {
  try {
    fs.closeSync(openRegularIn(dir, rel, { confine, what: rel }).fd);
    return true;
  } catch {
    return false;
  }
}

/** Opens a file the user named (a symlink they made is followed) if it is a regular file. */
export function openRegularFile(file: string, what: string): OpenedFile {
  const pathFd = fs.openSync(file, O_PATH);
  try {
    return reopenRegular(pathFd, what, undefined);
  } finally {
    fs.closeSync(pathFd);
  }
}

/** The whole content of an opened file, reading at most `maxBytes` (a file that grows past it is refused). */
export function readOpened(file: OpenedFile, what: string, maxBytes: number): Buffer {
  let buf = Buffer.alloc(Math.min(file.size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    if (length === buf.length) {
      if (length > maxBytes) throw new UnsafeFileError(`${what} grew past the ${maxBytes} bytes tslab reads for it`, 'too-big');
      const bigger = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
      buf.copy(bigger);
      buf = bigger;
    }
    const n = fs.readSync(file.fd, buf, length, buf.length - length, length);
    if (n === 0) break;
    length += n;
  }
  return buf.subarray(0, length);
}

/** The text of `rel` of the directory `dir`: a regular file of at most `maxBytes`, else UnsafeFileError. */
export function readRegularIn(dir: string, rel: string, lookup: Lookup & { maxBytes: number }): string {
  const file = openRegularIn(dir, rel, lookup);
  try {
    return readOpened(file, lookup.what, lookup.maxBytes).toString('utf8');
  } finally {
    fs.closeSync(file.fd);
  }
}

/**
 * The text of `unsafePath` of the root `rootFd` (the container's /etc/passwd, read by its init). Opened
 * directly, non-blocking (a FIFO is then refused without a wait), not through /proc/self/fd: the
 * container may have no /proc. A missing file, one reached through a magic link or a loop, or one that is
 * not regular is an UnsafeFileError with its reason.
 */
export function readFileInRoot(rootFd: number, unsafePath: string, maxBytes: number): string {
  const fd = lookUp(rootFd, unsafePath, O_RDONLY | O_NONBLOCK | O_NOCTTY, { confine: 'in-root', what: unsafePath });
  try {
    const st = fs.fstatSync(fd);
    checkRegular(st, unsafePath, maxBytes);
    return readOpened({ fd, size: st.size }, unsafePath, maxBytes).toString('utf8');
  } finally {
    close(fd);
  }
}
