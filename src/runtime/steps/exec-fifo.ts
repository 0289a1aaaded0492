// Lesson 9: `create` leaves the container's init blocked on a FIFO; `start` opens the FIFO for reading,
// which lets the init's write go through, and the init execs the program. Opened non-blocking, so a dead
// init cannot hang `start`: we poll for its byte and keep checking it is still alive.
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, SyscallError, close, open, pollReadable, read, unlink } from '../../linux/index.js';

export function releaseInit(fifo: string, initAlive: () => boolean): void {
  const fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  try {
    const byte = Buffer.alloc(1);
    while (readSome(fd, byte, fifo) !== 1) {
      if (!initAlive()) {
        // Since the read above, the init may have written its byte, exec'd and already exited (/bin/true): read once more.
        if (readSome(fd, byte, fifo) === 1) break;
        throw new Error('cannot start a container that has stopped');
      }
      pollReadable(fd, 1); // wait up to 1 ms for the byte
    }
  } finally {
    close(fd);
  }
  unlink(fifo);
}

/** read(2), with "nothing yet" (EAGAIN: the init has the FIFO open but has not written) as 0. */
function readSome(fd: number, buf: Buffer, fifo: string): number {
  try {
    return read(fd, buf, fifo);
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'EAGAIN') return 0;
    throw err;
  }
}
