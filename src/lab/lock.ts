// One lab session per machine: the lesson container's veth and cgroups have fixed names, and a second
// session's clean-up would end the first one's container. The lock is an flock, so it dies with its holder.
import * as fs from 'node:fs';
import { LOCK_EX, LOCK_NB, flock } from '../linux/fs.js';
import { SyscallError } from '../linux/error.js';

const LOCK_FILE = fs.existsSync('/run') ? '/run/tslab-lab.lock' : '/tmp/tslab-lab.lock';

export class LabBusyError extends Error {}

let held: number | undefined;

/** Takes the machine-wide lab lock for the life of this process. */
export function acquireLabLock(): void {
  if (held !== undefined) return;
  const fd = fs.openSync(LOCK_FILE, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  try {
    flock(fd, LOCK_EX | LOCK_NB, LOCK_FILE);
  } catch (err) {
    const holder = fs.readFileSync(LOCK_FILE, 'utf8').trim();
    fs.closeSync(fd);
    if (err instanceof SyscallError && err.code === 'EAGAIN') {
      throw new LabBusyError(
        `another lab session is running on this machine${holder ? ` (tslab pid ${holder})` : ''}: its lesson container, veth and cgroups have the same names as ours. Finish it first.`,
      );
    }
    throw err;
  }
  fs.ftruncateSync(fd);
  fs.writeSync(fd, String(process.pid));
  held = fd;
}
