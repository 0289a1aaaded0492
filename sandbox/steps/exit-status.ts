// LESSON 1 — A process
//
// When a child ends, the kernel tells its parent one of two things: the code the child passed to exit(2),
// or the signal that killed it. Node's 'exit' event gives them as (code, signal), one of them null.
// Write exitStatus(code, signal): return the code when there is one; for a death by signal, return
// 128 + the signal's number, as shells and runc do (SIGKILL is 9, so `kill -9` shows as 137).
import { constants } from 'node:os';
import { NotWrittenYet } from '../lab-support.js';

export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  // TODO(lesson 1): return `code`, or 128 + the number of `signal`.
  throw new NotWrittenYet(1, 'exitStatus', 'exit-status.ts', "os.constants.signals maps a name to its number: constants.signals['SIGKILL'] is 9");
}
