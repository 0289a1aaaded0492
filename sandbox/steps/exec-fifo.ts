// LESSON 9 — The OCI bundle and lifecycle
//
// `create` leaves the container's init blocked writing one byte to a FIFO; `start` opens the FIFO for
// reading, the init's write goes through, and the init execs the program. Write releaseInit(fifo,
// initAlive): open it O_RDONLY | O_NONBLOCK (a dead init must not hang us), read until the byte comes,
// throwing Error('cannot start a container that has stopped') once initAlive() is false; close, unlink.
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, SyscallError, close, open, pollReadable, read, unlink } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function releaseInit(fifo: string, initAlive: () => boolean): void {
  // TODO(lesson 9): read the init's byte from the FIFO, then remove the FIFO.
  throw new NotWrittenYet(9, 'releaseInit', 'exec-fifo.ts', 'read() returns 0 while no writer is there and throws EAGAIN (a SyscallError) while it has not written: wait with pollReadable(fd, 1) and try again');
}
