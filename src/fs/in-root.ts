// Resolves a path inside a root directory the way the kernel would after chroot(root): symlinks are
// followed but can never lead out of `root` ('..' stops at root, absolute links restart at root).
// secureJoin does it on strings (for paths the stage hands to mount(2) before the switch of root);
// openInRoot and mkdirAllInRoot let the kernel do it (openat2 RESOLVE_IN_ROOT) and also refuse /proc's
// magic links, which name a file by fd rather than by path and so could lead to the host. Reading a file
// found so is regular-file.ts's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SyscallError } from '../linux/error.js';
import { O_CLOEXEC, O_DIRECTORY, close } from '../linux/fs.js';
import { O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, mkdirat, openat2 } from '../linux/resolve.js';

const MAX_SYMLINKS = 255;

export function secureJoin(root: string, unsafePath: string): string {
  const pending = unsafePath.split('/').filter((part) => part !== '' && part !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(candidate);
    } catch {
      stat = undefined;
    }
    if (!stat?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new Error(`too many symbolic links resolving ${unsafePath} in ${root}`);
    const target = fs.readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return path.join(root, ...resolved);
}

/** Opens `unsafePath` as the kernel resolves it after chroot to `rootFd`'s directory, never through a magic link. */
export function openInRoot(rootFd: number, unsafePath: string, flags: number): number {
  return openat2(rootFd, unsafePath === '' ? '.' : unsafePath, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/**
 * `mkdir -p` inside the root: the longest existing prefix is resolved by the kernel (confined to the
 * root), each missing directory is made relative to an fd on its parent, so no symlink swapped in can
 * send the creation elsewhere. Returns an O_PATH fd on the directory (the caller closes it).
 */
export function mkdirAllInRoot(rootFd: number, unsafePath: string, mode: number): number {
  const parts = unsafePath.split('/').filter((part) => part !== '' && part !== '.');
  let dir = openInRoot(rootFd, '/', O_PATH | O_DIRECTORY);
  for (let i = 0; i < parts.length; i++) {
    const prefix = parts.slice(0, i + 1).join('/');
    let next: number;
    try {
      next = openInRoot(rootFd, prefix, O_PATH | O_DIRECTORY);
    } catch (err) {
      if (!(err instanceof SyscallError && err.code === 'ENOENT')) {
        close(dir);
        throw err;
      }
      try {
        mkdirat(dir, parts[i], mode);
        next = openInRoot(rootFd, prefix, O_PATH | O_DIRECTORY);
      } catch (mkdirErr) {
        close(dir);
        if (!(mkdirErr instanceof SyscallError)) throw mkdirErr;
        // EEXIST after ENOENT: the name is a symbolic link to something that does not exist.
        if (mkdirErr.code === 'EEXIST') throw new SyscallError('mkdirat', mkdirErr.errno, prefix, 'a symbolic link to nothing is in the way');
        // The parent was just opened, so ENOENT is the filesystem's own refusal (procfs and sysfs answer so).
        if (mkdirErr.code === 'ENOENT') throw new SyscallError('mkdirat', mkdirErr.errno, prefix, 'this filesystem does not let directories be made in it (procfs and sysfs, for one)');
        throw new SyscallError('mkdirat', mkdirErr.errno, prefix);
      }
    }
    close(dir);
    dir = next;
  }
  return dir;
}
