// Lesson 3: a new PID namespace. unshare(CLONE_NEWPID) does not move the caller: it only decides where
// the caller's next children are born, and the first of them becomes PID 1 there. Node runs several
// threads, so only this thread changes; setns back to our own PID namespace once the child exists.
import { CLONE_NEWPID, O_CLOEXEC, O_RDONLY, close, open, setns, unshare } from '../../linux/index.js';

const OWN_PID_NS = '/proc/thread-self/ns/pid';

export function spawnInNewPidNamespace<T>(spawnChild: () => T): T {
  const own = open(OWN_PID_NS, O_RDONLY | O_CLOEXEC);
  try {
    unshare(CLONE_NEWPID);
    try {
      return spawnChild();
    } finally {
      setns(own, CLONE_NEWPID, OWN_PID_NS);
    }
  } finally {
    close(own);
  }
}
