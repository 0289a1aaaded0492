// Opening the files of something tslab did not make (an image layout directory, a docker save archive)
// without being led anywhere else. A file named there may be a symlink to /etc/shadow, a FIFO that never
// answers, a device that never ends, or huge. So the kernel walks the path with openat2(RESOLVE_BENEATH)
// (a symlink may point elsewhere inside the directory, never out of it: EXDEV), the result is first opened
// O_PATH (which opens nothing: no FIFO blocks, no device driver runs), only a regular file is reopened for
// reading, and no more than a cap is read.
import * as fs from 'node:fs';
import { SyscallError } from '../linux/error.js';
import { O_PATH, RESOLVE_NO_MAGICLINKS, fileKind, openat2 } from '../linux/resolve.js';

const O_CLOEXEC = 0o2000000;
const RESOLVE_BENEATH = 0x08;

/** A file of an archive that tslab refuses to read, with the sentence why. */
export class UnsafeFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeFileError';
  }
}

/** An open regular file: read it with fs.readSync / fs.createReadStream({ fd }), close it with fs.closeSync. */
export interface OpenedFile {
  fd: number;
  size: number;
}

/** Reopens an O_PATH fd for reading once it is known to be a regular file of at most `maxBytes`. */
function reopenRegular(pathFd: number, what: string, maxBytes: number | undefined): OpenedFile {
  const st = fs.fstatSync(pathFd);
  if (!st.isFile()) throw new UnsafeFileError(`${what} is ${fileKind(st)}, not a regular file`);
  if (maxBytes !== undefined && st.size > maxBytes) {
    throw new UnsafeFileError(`${what} is ${st.size} bytes, more than the ${maxBytes} tslab reads for it`);
  }
  // Through the O_PATH fd: the very file just checked, whatever has been renamed since.
  const fd = fs.openSync(`/proc/self/fd/${pathFd}`, fs.constants.O_RDONLY | fs.constants.O_NOCTTY);
  return { fd, size: st.size };
}

/**
 * Opens `rel` inside the directory `root` for reading: symlinks are followed only while they stay inside
 * `root`; only a regular file of at most `maxBytes` is opened. `what` names the file in errors.
 */
export function openRegularBeneath(root: string, rel: string, what: string, maxBytes?: number): OpenedFile {
  const dirFd = fs.openSync(root, O_PATH | fs.constants.O_DIRECTORY);
  let pathFd: number;
  try {
    pathFd = openat2(dirFd, rel, O_PATH | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, 0, `${root}/${rel}`);
  } catch (err) {
    const code = err instanceof SyscallError ? err.code : undefined;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UnsafeFileError(`${what} is missing`);
    if (code === 'EXDEV') throw new UnsafeFileError(`${what} is (or goes through) a symlink that leads out of the archive, which tslab does not follow`);
    if (code === 'ELOOP') throw new UnsafeFileError(`${what} goes through too many symlinks`);
    throw err;
  } finally {
    fs.closeSync(dirFd);
  }
  try {
    return reopenRegular(pathFd, what, maxBytes);
  } finally {
    fs.closeSync(pathFd);
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

/** Whether `rel` inside `root` is a regular file (reached as openRegularBeneath would reach it). */
export function isRegularBeneath(root: string, rel: string): boolean {
  try {
    fs.closeSync(openRegularBeneath(root, rel, rel).fd);
    return true;
  } catch {
    return false;
  }
}

/** The whole content of an opened file, reading at most `maxBytes` (a file that grows past it is refused). */
export function readOpened(file: OpenedFile, what: string, maxBytes: number): Buffer {
  let buf = Buffer.alloc(Math.min(file.size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    if (length === buf.length) {
      if (length > maxBytes) throw new UnsafeFileError(`${what} grew past the ${maxBytes} bytes tslab reads for it`);
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
