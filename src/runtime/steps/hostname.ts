// Lesson 2: the hostname belongs to the UTS namespace. unshare(CLONE_NEWUTS) moves the caller into a new
// UTS namespace, a copy of the old one; sethostname(2) then changes the name for every process in the
// caller's UTS namespace only, so the container gets its own name and the host keeps its own. The kernel
// keeps at most 64 bytes (HOST_NAME_MAX) and refuses longer names with EINVAL.
import { CLONE_NEWUTS, SyscallError, sethostname, unshare } from '../../linux/index.js';

const HOST_NAME_MAX = 64;
const EINVAL = 22;

export function newUtsNamespace(): void {
  unshare(CLONE_NEWUTS);
}

export function setHostname(name: string): void {
  const length = Buffer.byteLength(name);
  if (length > HOST_NAME_MAX) {
    throw new SyscallError('sethostname', EINVAL, name, `a hostname holds at most ${HOST_NAME_MAX} bytes, this one has ${length}`);
  }
  sethostname(name);
}
