// A container process's terminal, made by the stage (init or exec) inside the container: the pty comes from
// the container's own devpts (so `tty` inside names it), its master goes to the orchestrator.
import { close, dup2 } from '../../linux/fs.js';
import { makeControllingTerminal, openPtyPair, setWindowSize } from '../../linux/pty.js';
import { sendFd } from '../../linux/socket.js';
import type { Process } from '../spec/types.js';

/** Sends the new pty's master over `socketFd` (closed after) to the orchestrator; returns the slave. */
export function allocateTerminal(proc: Process, socketFd: number): number {
  const { master, slave } = openPtyPair('/dev/ptmx');
  setWindowSize(master, proc.consoleSize?.height || 24, proc.consoleSize?.width || 80);
  sendFd(socketFd, master, '/dev/ptmx');
  close(master);
  close(socketFd);
  return slave;
}

/**
 * Makes `slave` the controlling terminal and stdin, stdout and stderr, just before exec. The caller is a
 * session leader, as TIOCSCTTY requires: spawn(detached) made it one, or `setsid --fork` for a detached exec.
 */
export function becomeTerminalSession(slave: number): void {
  makeControllingTerminal(slave);
  for (const fd of [0, 1, 2]) dup2(slave, fd);
  close(slave);
}
