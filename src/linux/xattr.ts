// Extended attributes: what overlayfs reads from its layers (trusted.overlay.opaque on an opaque directory)
// and what image layers carry (security.capability). The l* calls act on a symlink itself, never its target.
import { SyscallError } from './error.js';
import { errno, fn } from './libc.js';

const ENODATA = 61;
const EPERM = 1;
const EOPNOTSUPP = 95;
const ERANGE = 34;

function xattrHint(syscall: string, code: number, name?: string): string | undefined {
  if (code === ENODATA) return `the file has no extended attribute ${name ?? ''}`.trimEnd();
  if (code === EOPNOTSUPP) return `this filesystem does not support extended attributes${name ? ` in the ${name.split('.')[0]} namespace` : ''}`;
  if (code === EPERM && name?.startsWith('trusted.')) return 'trusted.* extended attributes need CAP_SYS_ADMIN (run as root)';
  if (code === EPERM && syscall.endsWith('setxattr') && name?.startsWith('user.')) {
    return 'user.* extended attributes cannot be set on symlinks or device files';
  }
  return undefined;
}

function checkXattr(result: number | bigint, syscall: string, path: string, name?: string): number {
  if (result === -1 || result === -1n) {
    const code = errno();
    throw new SyscallError(syscall, code, path, xattrHint(syscall, code, name));
  }
  return Number(result);
}

function asBuffer(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value;
}

/** lsetxattr(2): sets `name` on `path` itself (a symlink is not followed). */
export function lsetxattr(path: string, name: string, value: Buffer | string, flags = 0): void {
  const bytes = asBuffer(value);
  const call = fn('int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)');
  checkXattr(call(path, name, bytes, bytes.length, flags), 'lsetxattr', path, name);
}

/** lgetxattr(2): the value of `name` on `path` itself, or undefined when it has no such attribute. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const call = fn('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)');
  for (;;) {
    const size = call(path, name, null, 0) as number | bigint;
    if ((size === -1 || size === -1n) && errno() === ENODATA) return undefined;
    const length = checkXattr(size, 'lgetxattr', path, name);
    const buf = Buffer.alloc(length);
    if (length === 0) return buf;
    const got = call(path, name, buf, length) as number | bigint;
    if (got === -1 || got === -1n) {
      const code = errno();
      if (code === ENODATA) return undefined;
      if (code === ERANGE) continue; // it grew between the two calls
      throw new SyscallError('lgetxattr', code, path, xattrHint('lgetxattr', code, name));
    }
    return buf.subarray(0, Number(got));
  }
}

/** llistxattr(2): the names of `path`'s extended attributes (those this process may see). */
export function llistxattr(path: string): string[] {
  const call = fn('long llistxattr(const char *path, _Out_ uint8_t *list, size_t size)');
  for (;;) {
    const length = checkXattr(call(path, null, 0) as number | bigint, 'llistxattr', path);
    if (length === 0) return [];
    const buf = Buffer.alloc(length);
    const got = call(path, buf, length) as number | bigint;
    if ((got === -1 || got === -1n) && errno() === ERANGE) continue;
    const used = checkXattr(got, 'llistxattr', path);
    return buf.subarray(0, used).toString('utf8').split('\0').filter(Boolean);
  }
}

/** lremovexattr(2): removes `name` from `path` itself. */
export function lremovexattr(path: string, name: string): void {
  checkXattr(fn('int lremovexattr(const char *path, const char *name)')(path, name), 'lremovexattr', path, name);
}
