// Resolves a path inside a root directory the way the kernel would after chroot(root): symlinks are
// followed but can never lead out of `root` ('..' stops at root, absolute links restart at root).
import * as fs from 'node:fs';
import * as path from 'node:path';

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
