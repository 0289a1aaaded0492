// Lesson 1: the status a shell reports for a child. The kernel tells a parent either the exit code a
// process passed to exit(2), or the signal that killed it; shells (and runc) turn a death by signal N
// into the status 128 + N, so `kill -9` shows as 137.
import { constants } from 'node:os';

export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? constants.signals[signal] : 0);
}
