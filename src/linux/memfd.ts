// memfd_create(2): an anonymous file in memory, on no filesystem. Used where a file is needed that must
// exist whatever is mounted (a read-only root, no /tmp) and must leave nothing behind.
import { check, fn } from './libc.js';

export const MFD_CLOEXEC = 0x0001;

/** A new memory file; `name` is only shown in /proc/<pid>/fd as "/memfd:<name>". Returns its fd. */
export function memfdCreate(name: string, flags = MFD_CLOEXEC): number {
  return check(fn('int memfd_create(const char *name, unsigned int flags)')(name, flags), 'memfd_create', name);
}
