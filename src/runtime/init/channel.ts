// The stage's side of the socketpair to the orchestrator: synchronous, since nothing else runs meanwhile.
import * as fs from 'node:fs';
import { BlockingJsonLines } from '../channel/json-lines.js';
import type { OrchestratorReply, StageMessage, StagePlan } from './protocol.js';

export class StageChannel {
  private readonly lines: BlockingJsonLines;

  constructor(private readonly fd: number) {
    this.lines = new BlockingJsonLines(fd, 'the runtime closed its channel to the container init (it ended before the container was recorded)');
  }

  readPlan(): StagePlan {
    return this.lines.read<StagePlan>();
  }

  send(message: StageMessage): void {
    this.lines.write(message);
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
    const reply = this.lines.read<OrchestratorReply>();
    if (reply.type === 'abort') throw new Error(reply.message);
    if (reply.type !== type) throw new Error(`the runtime answered ${JSON.stringify(message.type)} with ${JSON.stringify(reply.type)}, not ${JSON.stringify(type)}`);
    return reply as OrchestratorReply & { type: T };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
