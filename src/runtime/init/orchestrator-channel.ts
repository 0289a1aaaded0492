// The orchestrator's side of the socketpair to the PID-1 stage.
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { OrchestratorReply, StageMessage, StagePlan } from './protocol.js';

export class OrchestratorChannel {
  private readonly queue: StageMessage[] = [];
  private waiter?: (message: StageMessage | undefined) => void;
  private buffered = '';
  private closed = false;
  private readonly socket: Readable & Writable;

  constructor(child: ChildProcess, fd: number) {
    this.socket = child.stdio[fd] as Readable & Writable;
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

  private deliver(message: StageMessage): void {
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(message);
    } else {
      this.queue.push(message);
    }
  }

  sendPlan(plan: StagePlan): void {
    this.socket.write(`${JSON.stringify(plan)}\n`);
  }

  reply(reply: OrchestratorReply): void {
    this.socket.write(`${JSON.stringify(reply)}\n`);
  }

  /** The next message, or undefined once the stage has closed its end (it exited). */
  next(): Promise<StageMessage | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** The last reply (the stage was told the container is recorded): resolves once it is written, then closes. */
  finish(reply: OrchestratorReply): Promise<void> {
    return new Promise((resolve) => {
      this.socket.write(`${JSON.stringify(reply)}\n`, () => {
        this.close();
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A line from the stage; one that is not a message (a stage from a mismatched build, say) is reported as its error. */
function parseMessage(line: string): StageMessage {
  try {
    return JSON.parse(line) as StageMessage;
  } catch {
    return { type: 'error', message: `container init sent something that is not a message: ${JSON.stringify(line.slice(0, 200))}` };
  }
}
