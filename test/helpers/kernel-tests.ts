// Shared by the kernel and terminal tests: the run's name prefix (so the leak check of test/global-setup.ts
// sees what they create), waiting for a child process to exit, and this process's pty fds.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
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

/** This process's fds that are ptys (a pts or a ptmx), as sorted "fd -> target" lines. */
export function ptyFds(): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // the fd of the readdir itself
    }
    if (target.startsWith('/dev/pts/') || target.endsWith('ptmx')) out.push(`${name} -> ${target}`);
  }
  return out.sort();
}
