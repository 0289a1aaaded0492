// One JSON message a line over the socketpair between the orchestrator and a stage (container init or exec).
// The stage's end is synchronous (nothing else runs in it meanwhile); the orchestrator's is event-driven,
// since it also waits for its child, relays signals and a terminal.
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';

/** The stage's end: blocking reads of whole lines from `fd`. */
export class BlockingJsonLines {
  private pending = '';

  /**
   * `closedMessage` is thrown when the orchestrator's end is closed before a whole line came; a line longer
   * than `maxLineBytes` is refused before it is all read.
   */
  constructor(
    private readonly fd: number,
    private readonly closedMessage: string,
    private readonly maxLineBytes = Infinity,
  ) {}

  private readLine(): string {
    const buf = Buffer.alloc(65536);
    for (;;) {
      const newline = this.pending.indexOf('\n');
      if (newline >= 0) {
        const line = this.pending.slice(0, newline);
        this.pending = this.pending.slice(newline + 1);
        return line;
      }
      if (this.pending.length > this.maxLineBytes) throw new Error('the runtime sent a message larger than any plan');
      const n = fs.readSync(this.fd, buf);
      if (n === 0) throw new Error(this.closedMessage);
      this.pending += buf.toString('utf8', 0, n);
    }
  }

  read<T>(): T {
    return JSON.parse(this.readLine()) as T;
  }

  write(message: unknown): void {
    fs.writeSync(this.fd, `${JSON.stringify(message)}\n`);
  }
}

/** The orchestrator's end: the stage's messages queued as they come, taken one at a time with next(). */
export class JsonLineQueue<M> {
  private readonly queue: M[] = [];
  private waiter?: (message: M | undefined) => void;
  private buffered = '';
  private closed = false;

  /** `notAMessage` turns a line that is not JSON (a stage from a mismatched build, say) into the message reporting it. */
  constructor(
    private readonly socket: Readable & Writable,
    notAMessage: (line: string) => M,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        let message: M;
        try {
          message = JSON.parse(line) as M;
        } catch {
          message = notAMessage(line);
        }
        this.deliver(message);
      }
    });
    const end = () => {
      this.closed = true;
      this.waiter?.(undefined);
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  private deliver(message: M): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(message);
    else this.queue.push(message);
  }

  /** `written` is called once the line is handed to the kernel. */
  write(message: unknown, written?: () => void): void {
    this.socket.write(`${JSON.stringify(message)}\n`, written);
  }

  /** The next message, or undefined once the stage has closed its end. */
  next(): Promise<M | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}
