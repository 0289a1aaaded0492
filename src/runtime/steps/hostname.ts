// Lesson 2: the hostname belongs to the UTS namespace. sethostname(2) changes it for every process in
// the caller's UTS namespace only, so a container with its own namespace gets its own name. The kernel
// keeps at most 64 bytes (HOST_NAME_MAX) and refuses longer names with EINVAL.
import { SyscallError, sethostname } from '../../linux/index.js';

const HOST_NAME_MAX = 64;
const EINVAL = 22;

export function setHostname(name: string): void {
  const length = Buffer.byteLength(name);
  if (length > HOST_NAME_MAX) {
    throw new SyscallError('sethostname', EINVAL, name, `a hostname holds at most ${HOST_NAME_MAX} bytes, this one has ${length}`);
  }
  sethostname(name);
}
