// LESSON 2 — UTS namespace: a hostname of its own
//
// The hostname belongs to the UTS namespace: after unshare(CLONE_NEWUTS), sethostname(2) changes it for
// this namespace only, and the host keeps its own. The kernel holds at most 64 bytes of hostname.
// Write setHostname(name): refuse a name of more than 64 bytes with a clear Error (a SyscallError with
// EINVAL reads well), then call sethostname(name).
import { SyscallError, sethostname } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function setHostname(name: string): void {
  // TODO(lesson 2): check the length in bytes, then call sethostname(name).
  throw new NotWrittenYet(2, 'setHostname', 'hostname.ts', 'Buffer.byteLength(name) counts bytes (an "é" is two); above 64, throw; otherwise sethostname(name)');
}
