// LESSON 4 — Mount namespace and a fresh /proc
//
// A new mount namespace starts as a copy of the host's mounts, still linked to them by shared
// propagation: a mount made inside would appear on the host. Write makeMountsPrivate(): remount "/"
// and everything below it private (MS_REC | MS_PRIVATE, no source, no type). Then write
// mountProc(target): mount a fresh proc filesystem there, with MS_NOSUID | MS_NODEV | MS_NOEXEC.
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_REC, mount } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function makeMountsPrivate(): void {
  // TODO(lesson 4): mount(null, '/', null, <flags>) with the flags that make every mount private.
  throw new NotWrittenYet(4, 'makeMountsPrivate', 'mount-namespace.ts', "mount(null, '/', null, MS_REC | MS_PRIVATE) changes only propagation");
}

export function mountProc(target: string): void {
  // TODO(lesson 4): mount a proc filesystem on `target`.
  throw new NotWrittenYet(4, 'mountProc', 'mount-namespace.ts', "the source and the type are both 'proc': mount('proc', target, 'proc', <flags>)");
}
