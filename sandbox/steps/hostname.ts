// LESSON 2 — UTS namespace: a hostname of its own
//
// The hostname belongs to the UTS namespace. Two functions, which the lab calls in this order:
// newUtsNamespace(): move this process into a new UTS namespace, a copy of the current one:
// unshare(CLONE_NEWUTS). The lab then checks that it really is in another UTS namespace than the host's
// before it goes on: sethostname in the host's namespace would rename the host.
// setHostname(name): the kernel holds at most 64 bytes of hostname. Refuse a name of more than 64 bytes
// with a clear Error (a SyscallError with EINVAL reads well), then call sethostname(name).
import { CLONE_NEWUTS, SyscallError, sethostname, unshare } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function newUtsNamespace(): void {
  // TODO(lesson 2): unshare the UTS namespace.
  throw new NotWrittenYet(2, 'newUtsNamespace', 'hostname.ts', 'unshare(flags) with the one CLONE_NEW* flag whose namespace holds the hostname');
}

export function setHostname(name: string): void {
  // TODO(lesson 2): check the length in bytes, then call sethostname(name).
  throw new NotWrittenYet(2, 'setHostname', 'hostname.ts', 'Buffer.byteLength(name) counts bytes (an "é" is two); above 64, throw; otherwise sethostname(name)');
}
