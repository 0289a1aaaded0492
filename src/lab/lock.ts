// One lab session per machine: the lesson container's veth and cgroups have fixed names, and a second
// session's clean-up would end the first one's container. The lock is an flock, so it dies with its holder;
// the file also names its holder ("pid starttime"), emptied on a clean exit, so that a name left in it says
// the last session was killed (kill -9, a crash) and this one took over.
import * as fs from 'node:fs';
import { LOCK_EX, LOCK_NB, flock } from '../linux/fs.js';
import { SyscallError } from '../linux/error.js';
import { isAlive, readProcStat } from '../linux/proc.js';

const LOCK_FILE = fs.existsSync('/run') ? '/run/tslab-lab.lock' : '/tmp/tslab-lab.lock';

export class LabBusyError extends Error {}

let held: number | undefined;

interface Holder {
  pid: number;
  startTime?: number;
}

function parseHolder(text: string): Holder | undefined {
  const [pid, startTime] = text.trim().split(/\s+/).map(Number);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: Number.isInteger(startTime) ? startTime : undefined };
}

/** Who holds the flock on `fd` per /proc/locks ("process N (its command)"), when the file names nobody alive. */
function lockOwner(fd: number): string | undefined {
  const ino = fs.fstatSync(fd).ino;
  let locks = '';
  try {
    locks = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  // "1: FLOCK  ADVISORY  WRITE 14986 fe:00:16637957 0 EOF": the pid, then major:minor:inode.
  const pid = locks.split('\n').map((l) => /\bFLOCK\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(l)).find((m) => m && Number(m[2]) === ino)?.[1];
  if (!pid) return undefined;
  let command = '';
  try {
    command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 80);
  } catch {
    // Gone meanwhile.
  }
  return `process ${pid}${command ? ` (${command})` : ''}`;
}

function holderAlive(holder: Holder): boolean {
  return holder.startTime === undefined ? readProcStat(holder.pid) !== undefined : isAlive(holder.pid, holder.startTime);
}

/**
 * Takes the machine-wide lab lock for the life of this process. Returns a sentence when the lock was left by
 * a session that is no longer running (it was taken over), else undefined.
 */
export function acquireLabLock(): string | undefined {
  if (held !== undefined) return undefined;
  const fd = fs.openSync(LOCK_FILE, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  const holder = parseHolder(fs.readFileSync(LOCK_FILE, 'utf8'));
  try {
    flock(fd, LOCK_EX | LOCK_NB, LOCK_FILE);
  } catch (err) {
    const owner = holder && holderAlive(holder) ? `process ${holder.pid} (tslab)` : lockOwner(fd);
    fs.closeSync(fd);
    if (err instanceof SyscallError && err.code === 'EAGAIN') {
      const who = owner ? ` (${owner})` : '';
      throw new LabBusyError(
        `another lab session holds the lab lock ${LOCK_FILE}${who}: its lesson container, veth and cgroups have the same names as ours. Finish it first.`,
      );
    }
    throw err;
  }
  fs.ftruncateSync(fd);
  fs.writeSync(fd, `${process.pid} ${readProcStat(process.pid)?.startTime ?? ''}\n`, 0);
  held = fd;
  // Emptied on a clean exit: a holder named in the file afterwards was killed before it could clean up.
  process.on('exit', () => fs.ftruncateSync(fd));
  if (holder && holder.pid !== process.pid && !holderAlive(holder)) {
    return `the lab lock was left by tslab process ${holder.pid}, which is no longer running (killed or crashed): taken over`;
  }
  return undefined;
}
