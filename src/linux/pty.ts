// Pseudo-terminals for `terminal: true`: the PID-1 stage opens a master/slave pair from the container's
// own /dev/ptmx (so `tty` inside names a device of the container's devpts), gives the slave to the
// program as its controlling terminal and sends the master out. No container ideas here, only the calls.
import { SyscallError } from './error.js';
import { check, errno, fn } from './libc.js';
import { O_CLOEXEC, O_RDWR, closeQuietly, open } from './fs.js';

export const O_NOCTTY = 0o400;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const TIOCSCTTY = 0x540e;
const EPERM = 1;

// ioctl is variadic: one fixed declaration per argument kind (ABI-safe on x86-64).
const ioctlPtr = () => fn('int ioctl(int fd, unsigned long request, void *arg)');
const ioctlInt = () => fn('int ioctl(int fd, unsigned long request, unsigned long arg)');

/**
 * Opens a new pty from `ptmxPath`: the master (close-on-exec, not our controlling terminal), unlocked,
 * and its slave, opened O_NOCTTY (and close-on-exec: dup2 onto 0/1/2 or spawn's stdio clears that on the
 * copy, while the original never leaks into an unrelated child and keeps the master from seeing EOF).
 */
export function openPtyPair(ptmxPath = '/dev/ptmx'): { master: number; slave: number; slavePath: string } {
  const master = open(ptmxPath, O_RDWR | O_NOCTTY | O_CLOEXEC);
  try {
    check(fn('int unlockpt(int fd)')(master), 'unlockpt', ptmxPath);
    const buf = Buffer.alloc(128);
    // ptsname_r returns an errno value itself (0 on success), not -1.
    const rc = fn('int ptsname_r(int fd, _Out_ char *buf, size_t len)')(master, buf, buf.length) as number;
    if (rc !== 0) throw new SyscallError('ptsname_r', rc, ptmxPath);
    const end = buf.indexOf(0);
    const slavePath = buf.toString('utf8', 0, end < 0 ? buf.length : end);
    const slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC);
    return { master, slave, slavePath };
  } catch (err) {
    closeQuietly(master);
    throw err;
  }
}

/** Sets the terminal's window size (TIOCSWINSZ; pixel sizes 0). A 0x0 size breaks `stty size`. */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8); // struct winsize { u16 row, col, xpixel, ypixel }
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  check(ioctlPtr()(fd, TIOCSWINSZ, ws), 'ioctl(TIOCSWINSZ)');
}

/** The terminal's window size (TIOCGWINSZ). */
export function getWindowSize(fd: number): { rows: number; cols: number } {
  const ws = Buffer.alloc(8);
  check(ioctlPtr()(fd, TIOCGWINSZ, ws), 'ioctl(TIOCGWINSZ)');
  return { rows: ws.readUInt16LE(0), cols: ws.readUInt16LE(2) };
}

const TERMIOS_SIZE = 60; // glibc x86-64: iflag, oflag, cflag, lflag (u32), line, cc[32], ispeed, ospeed
const C_OFLAG = 4;
const OPOST = 0o1;
const TCSANOW = 0;

/**
 * Turns the terminal's output processing (OPOST: "\n" -> "\r\n" and the like) on or off; returns whether
 * it was on. Node's setRawMode leaves it on; a relay of a pty needs it off, as cfmakeraw does, or a
 * full-screen program's bare "\n" (cursor down) becomes "\r\n" on the user's terminal.
 */
export function setOutputPostProcessing(fd: number, enabled: boolean): boolean {
  const t = Buffer.alloc(TERMIOS_SIZE);
  check(fn('int tcgetattr(int fd, void *termios)')(fd, t), 'tcgetattr');
  const oflag = t.readUInt32LE(C_OFLAG);
  const was = (oflag & OPOST) !== 0;
  if (was !== enabled) {
    t.writeUInt32LE(enabled ? oflag | OPOST : oflag & ~OPOST, C_OFLAG);
    check(fn('int tcsetattr(int fd, int action, const void *termios)')(fd, TCSANOW, t), 'tcsetattr');
  }
  return was;
}

/**
 * Makes the terminal `fd` (a slave) the calling process's controlling terminal (TIOCSCTTY, arg 0: do
 * not steal it from another session). The caller must lead a session without one: setsid() first,
 * or the kernel answers EPERM.
 */
export function makeControllingTerminal(fd: number): void {
  const rc = ioctlInt()(fd, TIOCSCTTY, 0) as number;
  if (rc === -1 && errno() === EPERM) {
    throw new SyscallError('ioctl(TIOCSCTTY)', EPERM, undefined, 'only a session leader without a controlling terminal may take one: setsid() first');
  }
  check(rc, 'ioctl(TIOCSCTTY)');
}
