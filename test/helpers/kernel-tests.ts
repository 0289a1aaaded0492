// Shared by the kernel tests: the run's name prefix (so the leak check of test/global-setup.ts sees what
// they create) and waiting for a child process to exit.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** `<run prefix>-<suffix>`: the prefix global setup provides, or a fresh one when run without it. */
export function runPrefix(suffix: string): string {
  const provided = (inject as unknown as (key: string) => { prefix?: string } | undefined)('tslabTest');
  return `${provided?.prefix ?? `tslabtest-${randomBytes(3).toString('hex')}`}-${suffix}`;
}

export function exited(child: ChildProcess, timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pid ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}
