// The user's terminal in raw mode as runc/docker make it (cfmakeraw): Node's setRawMode, plus output
// processing off, since the program's own pty already did it (else "\n" from a full-screen program would
// arrive as "\r\n"). Neither is touched when stdin is not a terminal.
import { setOutputPostProcessing } from '../../linux/pty.js';

/** Puts a TTY stdin in raw mode; returns what puts it back as it was. */
export function enterRawMode(stdin: NodeJS.ReadStream): () => void {
  const rawBefore = stdin.isTTY ? stdin.isRaw : undefined;
  if (stdin.isTTY && typeof stdin.setRawMode === 'function' && !rawBefore) stdin.setRawMode(true);
  const stdinFd = (stdin as { fd?: unknown }).fd;
  let opostBefore: boolean | undefined;
  if (stdin.isTTY && typeof stdinFd === 'number') {
    try {
      opostBefore = setOutputPostProcessing(stdinFd, false);
    } catch {
      // not a real terminal after all: nothing to turn off
    }
  }
  return () => {
    if (opostBefore && typeof stdinFd === 'number') {
      try {
        setOutputPostProcessing(stdinFd, true);
      } catch {
        // the terminal went away
      }
    }
    if (stdin.isTTY && typeof stdin.setRawMode === 'function' && !rawBefore) stdin.setRawMode(false);
  };
}
