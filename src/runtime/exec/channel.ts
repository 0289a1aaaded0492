// Both ends of the exec stage's socketpair. The stage's end is synchronous (nothing else runs in it
// meanwhile); the orchestrator's is event-driven, since it also relays signals and a terminal.
import * as net from 'node:net';
import { BlockingJsonLines, JsonLineQueue } from '../channel/json-lines.js';
import type { ExecMessage, ExecPlan, ExecReply } from './protocol.js';

const MAX_LINE_BYTES = 8 * 1024 * 1024;

export class ExecStageChannel {
  private readonly lines: BlockingJsonLines;

  constructor(fd: number) {
    this.lines = new BlockingJsonLines(fd, 'the runtime closed its channel to the exec stage', MAX_LINE_BYTES);
  }

  readPlan(): ExecPlan {
    return this.lines.read<ExecPlan>();
  }

  send(message: ExecMessage): void {
    this.lines.write(message);
  }

  /** Sends a request and waits for the answer; an abort from the orchestrator is thrown. */
  request(message: ExecMessage): void {
    this.send(message);
    const reply = this.lines.read<ExecReply>();
    if (reply.type === 'abort') throw new Error(reply.message);
  }
}

export class ExecOrchestratorChannel {
  private readonly lines: JsonLineQueue<ExecMessage>;

  /** Takes over `fd`, the orchestrator's end of the socketpair (closed by close()). */
  constructor(fd: number) {
    const socket = new net.Socket({ fd, readable: true, writable: true });
    this.lines = new JsonLineQueue<ExecMessage>(socket, (line) => ({
      type: 'error',
      message: `the exec stage sent something that is not a message: ${JSON.stringify(line.slice(0, 200))}`,
    }));
  }

  send(message: ExecPlan | ExecReply): void {
    this.lines.write(message);
  }

  /** The next message, or undefined once the stage's end is closed (it exec'd or exited). */
  next(): Promise<ExecMessage | undefined> {
    return this.lines.next();
  }

  close(): void {
    this.lines.close();
  }
}
