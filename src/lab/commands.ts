// Runs a cell's command as a child process, on the host or in the lesson container, streaming its output
// under the cell line by line.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { execByPid } from '../runtime/exec/by-pid.js';
import type { CommandResult } from './checks/types.js';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Receives each output line as it arrives; without it, output is only collected. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called with the child right after it starts (so Ctrl-C can end it). */
  onStart?: (child: ChildProcess) => void;
}

/** Runs argv in its own process group; a timeout ends the whole group. */
export function runCommand(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
  const child = spawn(argv[0], argv.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  return collectOutput(child, opts);
}

/**
 * Runs argv inside the running container whose init is `pid` (in its cgroups `cgroupDirs`): the runtime's
 * exec, started from this process (no Node of its own in between, ~0.1 s of CPU less per command). Exit
 * status 125 and the reason when it cannot be started, as runc's exec. The deadline covers the start too:
 * a start that has not exec'd the program by then is given up, its stage ended.
 */
export async function runInContainer(pid: number, cgroupDirs: readonly string[], argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), timeoutMs);
  // Read from the stage's spawn on: a quick program may end before the start is wound up, and Node drops
  // what nobody has read once a child exits.
  let output: Promise<CommandResult> | undefined;
  const onSpawn = (child: ChildProcess) => (output = collectOutput(child, opts));
  try {
    await execByPid(pid, cgroupDirs, argv, { stdio: ['ignore', 'pipe', 'pipe'], signal: giveUp.signal, onSpawn });
  } catch (err) {
    const why = giveUp.signal.aborted ? `it did not start within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    const message = `cannot run it in the container: ${why}`;
    opts.onLine?.(message, 'stderr');
    return { code: 125, stdout: '', stderr: `${message}\n` };
  } finally {
    clearTimeout(timer);
  }
  return output!;
}

/** Collects a started child's output (line by line to onLine) until it ends; a timeout ends its process group. */
function collectOutput(child: ChildProcess, opts: RunOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    opts.onStart?.(child);
    const collected = { stdout: '', stderr: '' };
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      child[stream]!.setEncoding('utf8');
      child[stream]!.on('data', (chunk: string) => {
        collected[stream] += chunk;
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) opts.onLine?.(line, stream);
      });
      child[stream]!.on('end', () => {
        if (partial) opts.onLine?.(partial, stream);
      });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout: collected.stdout, stderr: `${collected.stderr}${err.message}\n` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const status = code ?? 128 + (signal ? constants.signals[signal] : 0);
      resolve({ code: status, stdout: collected.stdout, stderr: collected.stderr + (timedOut ? `timed out after ${opts.timeoutMs ?? 60_000} ms\n` : '') });
    });
  });
}

export function killGroup(child: ChildProcess): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
