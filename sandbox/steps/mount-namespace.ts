// LESSON 4 — Mount namespace and a fresh /proc
//
// Three functions, which the lab calls in this order. newMountNamespace(): give this process a mount
// namespace of its own: unshare(CLONE_NEWNS). The lab then checks that it really is in another mount
// namespace than the host's before it goes on: the next two calls would change the host's mounts.
// A new mount namespace starts as a copy of the host's mounts, still linked to them by shared
// propagation: a mount made inside would appear on the host. Write makeMountsPrivate(): remount "/"
// and everything below it private (MS_REC | MS_PRIVATE, no source, no type). Then write
// mountProc(target): mount a fresh proc filesystem there, with MS_NOSUID | MS_NODEV | MS_NOEXEC.
import { CLONE_NEWNS, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_REC, mount, unshare } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function newMountNamespace(): void {
  // TODO(lesson 4): unshare the mount namespace.
  throw new NotWrittenYet(4, 'newMountNamespace', 'mount-namespace.ts', 'unshare(CLONE_NEWNS): "NS" is the mount namespace, the first one Linux had');
}

export function makeMountsPrivate(): void {
  // TODO(lesson 4): mount(null, '/', null, <flags>) with the flags that make every mount private.
  throw new NotWrittenYet(4, 'makeMountsPrivate', 'mount-namespace.ts', "mount(null, '/', null, MS_REC | MS_PRIVATE) changes only propagation");
}

export function mountProc(target: string): void {
  // TODO(lesson 4): mount a proc filesystem on `target`.
  throw new NotWrittenYet(4, 'mountProc', 'mount-namespace.ts', "the source and the type are both 'proc': mount('proc', target, 'proc', <flags>)");
}
