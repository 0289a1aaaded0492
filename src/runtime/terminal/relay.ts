// Copies between the user's terminal (or pipes) and a container's pty master, for `tslab run -it` and a
// terminal container started without --console-socket. DESIGN.md "Terminals" says why it looks like this:
// a tty.WriteStream on a master stays blocking and can hang the whole event loop for good, fs.write
// parks a pool thread, so the master is watched with koffi's libuv poll (which makes it non-blocking)
// and read/written with plain non-blocking calls and a write queue. EIO from read means every slave
// fd is closed: end of the session.
import { closeQuietly, pollFd, readRaw as read, writeRaw as write, type FdPoll } from '../../linux/fs.js';
import { check, errno } from '../../linux/libc.js';
import { setWindowSize } from '../../linux/pty.js';
import { enterRawMode } from './raw-mode.js';

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
  const relay = new Relay(master, opts.stdin, opts.stdout);
  relay.start();
  return { done: relay.done, resize: () => relay.resize(), close: () => relay.finish() };
}

/** One relay's state: the input queued for the master, whether stdout can take more, and the poll handle. */
class Relay {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: unknown) => void;
  private readonly readBuf = Buffer.alloc(READ_SIZE);
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private stdinPaused = false;
  private outputBlocked = false; // stdout asked us to wait for 'drain'
  private outputBroken = false; // stdout failed: keep draining the master, discard the output
  private lastWrite: Promise<void> = Promise.resolve();
  private finished = false;
  private readonly restoreStdin: () => void;
  private poll: PollHandle | null = null;
  private watching = ''; // the events the poll handle currently waits for, to skip needless restarts

  constructor(
    private readonly master: number,
    private readonly stdin: NodeJS.ReadStream,
    private readonly stdout: NodeJS.WriteStream,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // --- the user's side ---
    this.restoreStdin = enterRawMode(stdin);
    stdin.on('data', this.onInput);
    stdin.on('error', this.onInputError);
    stdout.on('drain', this.onDrain);
    stdout.on('error', this.onOutputError);
  }

  /** Sizes the pty and starts watching the master. */
  start(): void {
    try {
      this.resize();
      this.poll = pollFd(this.master, { readable: true }, this.onPoll as unknown as TypedPollCallback);
      if (!this.poll) throw new Error(`cannot poll pty master ${this.master}`);
      this.watching = 'truefalse';
    } catch (err) {
      this.finish(err);
    }
  }

  private readonly onInput = (chunk: Buffer | string): void => {
    if (this.finished) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length === 0) return;
    this.queue.push(buf);
    this.queued += buf.length;
    this.flushInput();
    if (!this.finished && this.queued > MAX_QUEUED && !this.stdinPaused) {
      this.stdinPaused = true;
      this.stdin.pause();
    }
  };

  private readonly onInputError = (): void => {
    // The input is gone; the program keeps running with its terminal, as with an ended stdin.
    this.stdin.off('data', this.onInput);
  };

  private readonly onDrain = (): void => {
    this.outputBlocked = false;
    this.updatePoll();
  };

  private readonly onOutputError = (): void => {
    this.outputBroken = true;
    this.outputBlocked = false;
    this.updatePoll();
  };

  // --- the master ---
  private readonly onPoll: PollCallback = (status, events) => {
    if (this.finished) return;
    if (status < 0) {
      // POLLERR: nothing more will come; take what is buffered, then end.
      this.drainOutput(Infinity);
      this.finish();
      return;
    }
    if (events.writable) this.flushInput();
    if (!this.finished && (events.readable || events.disconnect)) this.drainOutput(READS_PER_WAKEUP);
    if (!this.finished) this.updatePoll();
  };

  private updatePoll(): void {
    if (this.finished || !this.poll) return;
    const want = { readable: !this.outputBlocked, writable: this.queue.length > 0 };
    const key = `${want.readable}${want.writable}`;
    if (key === this.watching) return;
    this.watching = key;
    if (!want.readable && !want.writable) this.poll.stop();
    else this.poll.start(want, this.onPoll as unknown as TypedPollCallback);
  }

  /** Reads what the master has, up to `maxReads` times; ends the relay on EOF/EIO. */
  private drainOutput(maxReads: number): void {
    for (let i = 0; i < maxReads && !this.finished && !this.outputBlocked; i++) {
      const n = Number(read(this.master, this.readBuf, this.readBuf.length));
      if (n > 0) {
        this.emit(Buffer.from(this.readBuf.subarray(0, n)));
        continue;
      }
      if (n === 0) return this.finish(); // not seen on a pty master, but it means end all the same
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return;
      if (e === EIO) return this.finish(); // every slave fd is closed
      try {
        check(-1, 'read', `pty master ${this.master}`);
      } catch (err) {
        this.finish(err);
      }
      return;
    }
  }

  private emit(chunk: Buffer): void {
    if (this.outputBroken) return;
    this.lastWrite = new Promise<void>((resolve) => {
      // An error reaches onOutputError too; the relay only needs to know the write is settled.
      const ok = this.stdout.write(chunk, () => resolve());
      if (!ok) this.outputBlocked = true;
    });
  }

  /** Writes queued input to the master until it would block. */
  private flushInput(): void {
    while (this.queue.length > 0 && !this.finished) {
      const head = this.queue[0]!;
      const n = Number(write(this.master, head, head.length));
      if (n >= 0) {
        this.queued -= n;
        if (n === head.length) this.queue.shift();
        else this.queue[0] = head.subarray(n);
        continue;
      }
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) break;
      // EIO and the like: nobody will read this input any more; the read side reports the end.
      this.queue.length = 0;
      this.queued = 0;
    }
    if (this.stdinPaused && this.queued <= MAX_QUEUED / 2 && !this.finished) {
      this.stdinPaused = false;
      this.stdin.resume();
    }
    this.updatePoll();
  }

  // --- end ---
  private detach(): void {
    this.finished = true;
    if (this.poll) {
      this.poll.close(); // stops watching first: the fd may be closed right after
      this.poll = null;
    }
    closeQuietly(this.master);
    this.stdin.off('data', this.onInput);
    this.stdin.off('error', this.onInputError);
    this.stdin.pause(); // lets the process exit: a paused process.stdin no longer holds the event loop
    this.restoreStdin();
    this.stdout.off('drain', this.onDrain);
  }

  /** Stops relaying (idempotent); `done` settles once the last output was handed to stdout. */
  finish(err?: unknown): void {
    if (this.finished) return;
    this.detach();
    const settled = this.lastWrite;
    void settled.then(() => {
      this.stdout.off('error', this.onOutputError);
      if (err) this.rejectDone(err);
      else this.resolveDone();
    });
  }

  resize(): void {
    if (this.finished) return;
    const tty = this.stdout.isTTY && this.stdout.rows > 0 && this.stdout.columns > 0;
    setWindowSize(this.master, tty ? this.stdout.rows : DEFAULT_ROWS, tty ? this.stdout.columns : DEFAULT_COLS);
  }
}
