// The stage's side of the socketpair to the orchestrator: synchronous, since nothing else runs meanwhile.
import * as fs from 'node:fs';
import type { OrchestratorReply, StageMessage, StagePlan } from '../protocol.js';

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
      if (n === 0) throw new Error('the runtime closed its channel to the container init');
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
    this.send(message);
    const reply = JSON.parse(this.readLine()) as OrchestratorReply;
    if (reply.type === 'abort') throw new Error(reply.message);
    return reply;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
