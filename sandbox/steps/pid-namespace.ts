// LESSON 3 — PID namespace: becoming PID 1
//
// unshare(CLONE_NEWPID) does not move the caller: it decides where its next children are born, and the
// first one becomes PID 1 of the new namespace. Node has several threads and only this one changes.
// Write spawnInNewPidNamespace(spawnChild): open /proc/thread-self/ns/pid (our own namespace), unshare,
// call spawnChild() and return what it returns, and ALWAYS setns back to our namespace (in a finally),
// then close the fd, so the runtime's later children are born at home.
import { CLONE_NEWPID, O_CLOEXEC, O_RDONLY, close, open, setns, unshare } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function spawnInNewPidNamespace<T>(spawnChild: () => T): T {
  // TODO(lesson 3): open our PID namespace, unshare(CLONE_NEWPID), spawnChild(), setns back in a finally.
  throw new NotWrittenYet(3, 'spawnInNewPidNamespace', 'pid-namespace.ts', "const own = open('/proc/thread-self/ns/pid', O_RDONLY | O_CLOEXEC); later setns(own, CLONE_NEWPID) undoes the unshare");
}
