import { check, fn } from './libc.js';

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_FS = 0x00000200;

/** Moves the calling thread (only it, in a multithreaded process) into new namespaces. */
export function unshare(flags: number): void {
  check(fn('int unshare(int flags)')(flags), 'unshare');
}

/** Joins the namespace that `fd` refers to; `nstype` 0 accepts any type. */
export function setns(fd: number, nstype: number, path?: string): void {
  check(fn('int setns(int fd, int nstype)')(fd, nstype), 'setns', path);
}
