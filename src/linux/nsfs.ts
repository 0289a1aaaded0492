// Namespace files (nsfs): /proc/<pid>/ns/* and the bind mounts `ip netns add` makes of them.
// A path from config.json may name anything, and setns(2) on the wrong file only fails late: this call asks
// the kernel what an open file is; resolve.ts's fstatfsType tells nsfs from the rest (open it O_NONBLOCK
// first: a FIFO would otherwise wait for a writer).
import { check, fn } from './libc.js';

/** statfs(2) f_type of the nsfs filesystem (linux/magic.h). */
export const NSFS_MAGIC = 0x6e736673;
/** ioctl(2) on a namespace file: returns its CLONE_NEW* type (linux/nsfs.h, _IO(0xb7, 0x3)). */
export const NS_GET_NSTYPE = 0xb703;

/** The CLONE_NEW* flag of the namespace file `fd` (NS_GET_NSTYPE). */
export function namespaceType(fd: number, path?: string): number {
  return check(fn('int ioctl(int fd, unsigned long request, long arg)')(fd, NS_GET_NSTYPE, 0), 'ioctl(NS_GET_NSTYPE)', path);
}
