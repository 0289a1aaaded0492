// Reading a container's root filesystem from the host. The rootfs comes from an image, which nobody vouches
// for: its /etc/passwd may be a symlink to the host's /etc/shadow (an absolute link means the container's
// /, but the host's kernel resolves it from the host's /), a FIFO that never answers, or a device that never
// ends. So every lookup is done by the kernel with the rootfs as its root (openat2 RESOLVE_IN_ROOT), only
// regular files are opened for reading (checked on an O_PATH fd, before anything is opened for real), and
// no more than a cap is read.
import * as fs from 'node:fs';
import { O_CLOEXEC, O_DIRECTORY, O_RDONLY, close, open } from '../linux/fs.js';
import { O_NOCTTY, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, fileKind, openat2 } from '../linux/resolve.js';
import { SyscallError } from '../linux/error.js';

export class RootfsFileError extends Error {}

/** Runs `use` with an O_PATH fd of `file` looked up inside `rootfs`; undefined if it does not exist there. */
function withPathFd<T>(rootfs: string, file: string, use: (fd: number) => T): T | undefined {
  const root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  let fd: number;
  try {
    fd = openat2(root, file, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, 0, `${file} in ${rootfs}`);
  } catch (err) {
    if (err instanceof SyscallError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return undefined;
    throw new RootfsFileError(`looking up the image's ${file} (in ${rootfs}): ${(err as Error).message}`);
  } finally {
    close(root);
  }
  try {
    return use(fd);
  } finally {
    close(fd);
  }
}

/**
 * The text of the image's `file` (e.g. /etc/passwd), resolved inside `rootfs`; undefined if there is none.
 * Refuses anything but a regular file of at most `maxBytes`.
 */
export function readRootfsFile(rootfs: string, file: string, maxBytes: number): string | undefined {
  return withPathFd(rootfs, file, (pathFd) => {
    const st = fs.fstatSync(pathFd);
    if (!st.isFile()) throw new RootfsFileError(`the image's ${file} is ${fileKind(st)}: tslab reads only regular files from an image`);
    if (st.size > maxBytes) {
      throw new RootfsFileError(`the image's ${file} is ${st.size} bytes, more than the ${maxBytes} tslab reads from an image file`);
    }
    let fd: number | undefined;
    try {
      // Reopened through the O_PATH fd: the very file just checked, whatever has been renamed since.
      fd = open(`/proc/self/fd/${pathFd}`, O_RDONLY | O_NOCTTY | O_CLOEXEC);
      const buf = Buffer.alloc(maxBytes + 1);
      let length = 0;
      for (;;) {
        const n = fs.readSync(fd, buf, length, buf.length - length, null);
        if (n === 0) break;
        length += n;
        if (length > maxBytes) throw new RootfsFileError(`the image's ${file} grew past the ${maxBytes} bytes tslab reads from an image file`);
      }
      return buf.subarray(0, length).toString('utf8');
    } catch (err) {
      if (err instanceof RootfsFileError) throw err;
      throw new RootfsFileError(`reading the image's ${file} (in ${rootfs}): ${(err as Error).message}`);
    } finally {
      if (fd !== undefined) close(fd);
    }
  });
}
