// The orchestrator's side of the socketpair to the PID-1 stage.
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { JsonLineQueue } from '../channel/json-lines.js';
import type { OrchestratorReply, StageMessage, StagePlan } from './protocol.js';

export class OrchestratorChannel {
  private readonly lines: JsonLineQueue<StageMessage>;

  constructor(child: ChildProcess, fd: number) {
    // A line that is not a message (a stage from a mismatched build, say) is reported as its error.
    this.lines = new JsonLineQueue<StageMessage>(child.stdio[fd] as Readable & Writable, (line) => ({
      type: 'error',
      message: `container init sent something that is not a message: ${JSON.stringify(line.slice(0, 200))}`,
    }));
  }

  sendPlan(plan: StagePlan): void {
    this.lines.write(plan);
  }

  reply(reply: OrchestratorReply): void {
    this.lines.write(reply);
  }

  /** The next message, or undefined once the stage has closed its end (it exited). */
  next(): Promise<StageMessage | undefined> {
    return this.lines.next();
  }

  /** The last reply (the stage was told the container is recorded): resolves once it is written, then closes. */
  finish(reply: OrchestratorReply): Promise<void> {
    return new Promise((resolve) => {
      this.lines.write(reply, () => {
        this.close();
        resolve();
      });
    });
  }

  close(): void {
    this.lines.close();
  }
}
