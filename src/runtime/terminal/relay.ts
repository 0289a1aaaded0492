// Copies between the user's terminal (or pipes) and a container's pty master, for `tslab run -it` and a
// terminal container started without --console-socket. DESIGN.md "Terminals" says why it looks like this:
// a tty.WriteStream on a master stays blocking and can hang the whole event loop for good, fs.write
// parks a pool thread, so the master is watched with koffi's libuv poll (which makes it non-blocking)
// and read/written with plain non-blocking calls and a write queue. EIO from read means every slave
// fd is closed: end of the session.
import { closeQuietly, pollFd, readRaw as read, writeRaw as write, type FdPoll } from '../../linux/fs.js';
import { check, errno } from '../../linux/libc.js';
import { setOutputPostProcessing, setWindowSize } from '../../linux/pty.js';

const EINTR = 4;
const EIO = 5;
const EAGAIN = 11;
const READ_SIZE = 64 * 1024;
/** Reads per poll wake-up, so a chatty program cannot starve the rest of the event loop. */
const READS_PER_WAKEUP = 16;
/** Input queued for the master beyond this pauses stdin until the program reads some. */
const MAX_QUEUED = 1024 * 1024;
const DEFAULT_ROWS = 24;
const DEFAULT_COLS = 80;

type PollHandle = FdPoll;
type TypedPollCallback = (ev: { readable: boolean; writable: boolean; disconnect: boolean }) => void;
// koffi's callback receives (status, events); its typings show only the events.
type PollCallback = (status: number, events: { readable: boolean; writable: boolean; disconnect: boolean }) => void;

export interface TerminalRelay {
  /** Resolves when the program's side is closed (EIO on the master) and the output was handed to stdout. */
  done: Promise<void>;
  /** Copies stdout's current size (24x80 when it is not a terminal) to the pty; call it on SIGWINCH. */
  resize(): void;
  /** Stops relaying now: restores stdin, closes the master. Idempotent. */
  close(): void;
}

/**
 * Relays stdin -> master and master -> stdout until the program side of the pty is gone.
 * Takes ownership of `master`: it is closed when the relay ends (do not close it yourself).
 * A TTY stdin is put in raw mode (Ctrl-C travels as 0x03 and the container's line discipline turns it
 * into SIGINT) and restored at the end. End of a non-TTY stdin closes nothing, as runc does: the
 * program keeps its terminal until it exits.
 */
export function relayTerminal(
  master: number,
  opts: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream },
): TerminalRelay {
  const { stdin, stdout } = opts;
  const readBuf = Buffer.alloc(READ_SIZE);

  const queue: Buffer[] = [];
  let queued = 0;
  let stdinPaused = false;
  let outputBlocked = false; // stdout asked us to wait for 'drain'
  let outputBroken = false; // stdout failed: keep draining the master, discard the output
  let lastWrite: Promise<void> = Promise.resolve();
  let finished = false;

  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });

  // --- the user's side -------------------------------------------------------------------------
  // Raw mode as runc/docker make it (cfmakeraw): Node's setRawMode, plus output processing off, since the
  // program's own pty already did it (else "\n" from a full-screen program would arrive as "\r\n").
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

  const onInput = (chunk: Buffer | string): void => {
    if (finished) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length === 0) return;
    queue.push(buf);
    queued += buf.length;
    flushInput();
    if (!finished && queued > MAX_QUEUED && !stdinPaused) {
      stdinPaused = true;
      stdin.pause();
    }
  };
  const onInputError = (): void => {
    // The input is gone; the program keeps running with its terminal, as with an ended stdin.
    stdin.off('data', onInput);
  };
  const onDrain = (): void => {
    outputBlocked = false;
    updatePoll();
  };
  const onOutputError = (): void => {
    outputBroken = true;
    outputBlocked = false;
    updatePoll();
  };
  stdin.on('data', onInput);
  stdin.on('error', onInputError);
  stdout.on('drain', onDrain);
  stdout.on('error', onOutputError);

  // --- the master ------------------------------------------------------------------------------
  let poll: PollHandle | null = null;
  let watching = ''; // the events the poll handle currently waits for, to skip needless restarts

  const onPoll: PollCallback = (status, events) => {
    if (finished) return;
    if (status < 0) {
      // POLLERR: nothing more will come; take what is buffered, then end.
      drainOutput(Infinity);
      finish();
      return;
    }
    if (events.writable) flushInput();
    if (!finished && (events.readable || events.disconnect)) drainOutput(READS_PER_WAKEUP);
    if (!finished) updatePoll();
  };

  function updatePoll(): void {
    if (finished || !poll) return;
    const want = { readable: !outputBlocked, writable: queue.length > 0 };
    const key = `${want.readable}${want.writable}`;
    if (key === watching) return;
    watching = key;
    if (!want.readable && !want.writable) poll.stop();
    else poll.start(want, onPoll as unknown as TypedPollCallback);
  }

  /** Reads what the master has, up to `maxReads` times; ends the relay on EOF/EIO. */
  function drainOutput(maxReads: number): void {
    for (let i = 0; i < maxReads && !finished && !outputBlocked; i++) {
      const n = Number(read(master, readBuf, readBuf.length));
      if (n > 0) {
        emit(Buffer.from(readBuf.subarray(0, n)));
        continue;
      }
      if (n === 0) return finish(); // not seen on a pty master, but it means end all the same
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return;
      if (e === EIO) return finish(); // every slave fd is closed
      try {
        check(-1, 'read', `pty master ${master}`);
      } catch (err) {
        finish(err);
      }
      return;
    }
  }

  function emit(chunk: Buffer): void {
    if (outputBroken) return;
    lastWrite = new Promise<void>((resolve) => {
      // An error reaches onOutputError too; the relay only needs to know the write is settled.
      const ok = stdout.write(chunk, () => resolve());
      if (!ok) outputBlocked = true;
    });
  }

  /** Writes queued input to the master until it would block. */
  function flushInput(): void {
    while (queue.length > 0 && !finished) {
      const head = queue[0]!;
      const n = Number(write(master, head, head.length));
      if (n >= 0) {
        queued -= n;
        if (n === head.length) queue.shift();
        else queue[0] = head.subarray(n);
        continue;
      }
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) break;
      // EIO and the like: nobody will read this input any more; the read side reports the end.
      queue.length = 0;
      queued = 0;
    }
    if (stdinPaused && queued <= MAX_QUEUED / 2 && !finished) {
      stdinPaused = false;
      stdin.resume();
    }
    updatePoll();
  }

  // --- end -------------------------------------------------------------------------------------
  function detach(): void {
    finished = true;
    if (poll) {
      poll.close(); // stops watching first: the fd may be closed right after
      poll = null;
    }
    closeQuietly(master);
    stdin.off('data', onInput);
    stdin.off('error', onInputError);
    stdin.pause(); // lets the process exit: a paused process.stdin no longer holds the event loop
    if (opostBefore && typeof stdinFd === 'number') {
      try {
        setOutputPostProcessing(stdinFd, true);
      } catch {
        // the terminal went away
      }
    }
    if (stdin.isTTY && typeof stdin.setRawMode === 'function' && !rawBefore) stdin.setRawMode(false);
    stdout.off('drain', onDrain);
  }

  function finish(err?: unknown): void {
    if (finished) return;
    detach();
    const settled = lastWrite;
    void settled.then(() => {
      stdout.off('error', onOutputError);
      if (err) rejectDone(err);
      else resolveDone();
    });
  }

  function resize(): void {
    if (finished) return;
    const tty = stdout.isTTY && stdout.rows > 0 && stdout.columns > 0;
    setWindowSize(master, tty ? stdout.rows : DEFAULT_ROWS, tty ? stdout.columns : DEFAULT_COLS);
  }

  try {
    resize();
    poll = pollFd(master, { readable: true }, onPoll as unknown as TypedPollCallback);
    if (!poll) throw new Error(`cannot poll pty master ${master}`);
    watching = 'truefalse';
  } catch (err) {
    finish(err);
  }

  return { done, resize, close: () => finish() };
}
