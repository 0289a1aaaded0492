// The stage's side of the socketpair to the orchestrator: synchronous, since nothing else runs meanwhile.
import * as fs from 'node:fs';
import type { OrchestratorReply, StageMessage, StagePlan } from './protocol.js';

export class StageChannel {
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
      const n = fs.readSync(this.fd, buf);
      if (n === 0) throw new Error('the runtime closed its channel to the container init (it ended before the container was recorded)');
      this.pending += buf.toString('utf8', 0, n);
    }
  }

  readPlan(): StagePlan {
    return JSON.parse(this.readLine()) as StagePlan;
  }

  send(message: StageMessage): void {
    fs.writeSync(this.fd, `${JSON.stringify(message)}\n`);
  }

  /** Sends a request and waits for the answer; an abort from the orchestrator is thrown. */
  request(message: StageMessage): OrchestratorReply & { type: 'ok' } {
    return this.expect(message, 'ok');
  }

  /**
   * Says the container is ready and waits until the orchestrator has recorded it. A runtime killed before
   * that closes the channel: then no `start` can ever come, and the error thrown ends the stage.
   */
  ready(): void {
    this.expect({ type: 'ready' }, 'committed');
  }

  private expect<T extends 'ok' | 'committed'>(message: StageMessage, type: T): OrchestratorReply & { type: T } {
    this.send(message);
    const reply = JSON.parse(this.readLine()) as OrchestratorReply;
    if (reply.type === 'abort') throw new Error(reply.message);
    if (reply.type !== type) throw new Error(`the runtime answered ${JSON.stringify(message.type)} with ${JSON.stringify(reply.type)}, not ${JSON.stringify(type)}`);
    return reply as OrchestratorReply & { type: T };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
