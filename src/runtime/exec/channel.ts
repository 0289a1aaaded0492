// Both ends of the exec stage's socketpair. The stage's end is synchronous (nothing else runs in it
// meanwhile); the orchestrator's is event-driven, since it also relays signals and a terminal.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { ExecMessage, ExecPlan, ExecReply } from './protocol.js';

const MAX_LINE_BYTES = 8 * 1024 * 1024;

export class ExecStageChannel {
  private pending = '';

  constructor(private readonly fd: number) {}

  private readLine(): string {
    const buf = Buffer.alloc(65536);
    for (;;) {
      const newline = this.pending.indexOf('\n');
      if (newline >= 0) {
        const line = this.pending.slice(0, newline);
        this.pending = this.pending.slice(newline + 1);
        return line;
      }
      if (this.pending.length > MAX_LINE_BYTES) throw new Error('the runtime sent a message larger than any plan');
      const n = fs.readSync(this.fd, buf);
      if (n === 0) throw new Error('the runtime closed its channel to the exec stage');
      this.pending += buf.toString('utf8', 0, n);
    }
  }

  readPlan(): ExecPlan {
    return JSON.parse(this.readLine()) as ExecPlan;
  }

  send(message: ExecMessage): void {
    fs.writeSync(this.fd, `${JSON.stringify(message)}\n`);
  }

  /** Sends a request and waits for the answer; an abort from the orchestrator is thrown. */
  request(message: ExecMessage): void {
    this.send(message);
    const reply = JSON.parse(this.readLine()) as ExecReply;
    if (reply.type === 'abort') throw new Error(reply.message);
  }
}

export class ExecOrchestratorChannel {
  private readonly queue: ExecMessage[] = [];
  private waiter?: (message: ExecMessage | undefined) => void;
  private buffered = '';
  private closed = false;
  private readonly socket: net.Socket;

  /** Takes over `fd`, the orchestrator's end of the socketpair (closed by close()). */
  constructor(fd: number) {
    this.socket = new net.Socket({ fd, readable: true, writable: true });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        this.deliver(parseMessage(this.buffered.slice(0, newline)));
        this.buffered = this.buffered.slice(newline + 1);
      }
    });
    const end = () => {
      this.closed = true;
      this.waiter?.(undefined);
    };
    this.socket.on('close', end);
    this.socket.on('error', end);
  }

  private deliver(message: ExecMessage): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(message);
    else this.queue.push(message);
  }

  send(message: ExecPlan | ExecReply): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** The next message, or undefined once the stage's end is closed (it exec'd or exited). */
  next(): Promise<ExecMessage | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}

function parseMessage(line: string): ExecMessage {
  try {
    return JSON.parse(line) as ExecMessage;
  } catch {
    return { type: 'error', message: `the exec stage sent something that is not a message: ${JSON.stringify(line.slice(0, 200))}` };
  }
}
