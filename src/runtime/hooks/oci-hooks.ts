// OCI hooks: each runs with the container's state JSON on stdin; a non-zero exit or a timeout fails it.
//
// A hook runs in a session of its own, so it leads its own process group: on a timeout (or when the
// create that runs it is interrupted) the whole group is killed, not only the hook, whose children
// would otherwise live on. Its stdin and its output are memory files (memfd), never pipes: a hook is
// done when it exits, and a child it leaves running on purpose (a daemon) cannot keep us waiting for
// EOF on a pipe it inherited. What the hook printed is read back and quoted in any error.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { errnoNumber, errnoText } from '../../linux/errno.js';
import { memfdCreate } from '../../linux/memfd.js';
import { RuntimeError } from '../runtime-error.js';
import { isAlive, readProcStat } from '../../linux/proc.js';
import type { Hook, State } from '../spec/types.js';

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export class HookError extends RuntimeError {}

/** A hook process that is running: the leader of its own process group. */
export interface HookProcess {
  pid: number;
  startTime: number;
}

/**
 * node:child_process, loaded when a hook first runs: with node:net and the streams it brings, ~5 ms of CPU that
 * `start` and `delete` (which import this module for poststart and poststop hooks) spent on every container.
 */
function childProcess(): typeof import('node:child_process') {
  return createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
}

/** How much of a hook's output an error quotes (its end, where the reason usually is). */
const OUTPUT_QUOTED_BYTES = 4096;

function envObject(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

/** The hook's stdin (the state, at offset 0) and its stdout+stderr, both memory files. */
class HookFiles {
  readonly stdinFd: number;
  readonly outputFd: number;

  constructor(kind: HookKind, state: State) {
    this.stdinFd = memfdCreate(`${kind}-hook-stdin`);
    try {
      // pwrite at 0: the file offset the hook reads from stays at the start.
      fs.writeSync(this.stdinFd, JSON.stringify(state), 0);
      this.outputFd = memfdCreate(`${kind}-hook-output`);
    } catch (err) {
      fs.closeSync(this.stdinFd);
      throw new HookError(`cannot give the ${kind} hook its state on stdin: ${(err as Error).message}`);
    }
  }

  /** The end of what the hook wrote, trimmed. */
  readOutput(): string {
    const size = fs.fstatSync(this.outputFd).size;
    const length = Math.min(size, OUTPUT_QUOTED_BYTES);
    const buf = Buffer.alloc(length);
    fs.readSync(this.outputFd, buf, 0, length, size - length);
    return `${size > length ? '…' : ''}${buf.toString('utf8')}`.trim();
  }

  close(): void {
    fs.closeSync(this.stdinFd);
    fs.closeSync(this.outputFd);
  }
}

/** How a hook ended. */
type Outcome =
  | { kind: 'exited'; status: number | null; signal: NodeJS.Signals | null }
  | { kind: 'not-run'; code: string | undefined; message: string }
  | { kind: 'timed-out' }
  | { kind: 'interrupted'; why: string };

/** Nothing if the hook succeeded, else the error that says how it failed, with its output. */
function failure(kind: HookKind, hook: Hook, outcome: Outcome, output: string): HookError | undefined {
  const detail = output ? `: ${output}` : '';
  const name = `${kind} hook ${hook.path}`;
  switch (outcome.kind) {
    case 'exited':
      if (outcome.signal) return new HookError(`${name} was killed by ${outcome.signal}${detail}`);
      if (outcome.status !== 0) return new HookError(`${name} exited with status ${outcome.status}${detail}`);
      return undefined;
    case 'not-run': {
      const errno = outcome.code === undefined ? undefined : errnoNumber(outcome.code);
      const why = errno === undefined ? (outcome.code ?? outcome.message) : `${outcome.code} (${errnoText(errno)})`;
      return new HookError(`${name} could not run: ${why}`);
    }
    case 'timed-out':
      return new HookError(`${name} timed out after ${hook.timeout}s; it and every process it started were killed${detail}`);
    case 'interrupted':
      return new HookError(`${name} was stopped (${outcome.why}); it and every process it started were killed${detail}`);
  }
}

/** SIGKILL to the hook's whole process group (it leads it: pgid = pid). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is empty already.
  }
}

/** Kills a hook left running by a create that died, with its group, if it is still that process. */
export function killHookGroup(hook: HookProcess): void {
  if (isAlive(hook.pid, hook.startTime)) killGroup(hook.pid);
}

function spawnOptions(hook: Hook, files: HookFiles) {
  const args = hook.args ?? [hook.path];
  return {
    args: args.slice(1),
    options: {
      argv0: args[0] ?? hook.path,
      env: envObject(hook.env),
      // setsid(): a process group of its own, and no controlling terminal to be stopped by.
      detached: true,
      stdio: [files.stdinFd, files.outputFd, files.outputFd] as [number, number, number],
    },
  };
}

/** Runs one hook and waits for it to exit (runtime commands and the PID-1 stage, which have nothing else to do). */
function runHook(kind: HookKind, hook: Hook, state: State): void {
  const files = new HookFiles(kind, state);
  try {
    const { args, options } = spawnOptions(hook, files);
    const result = childProcess().spawnSync(hook.path, args, { ...options, timeout: hook.timeout ? hook.timeout * 1000 : undefined, killSignal: 'SIGKILL' });
    const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
    let outcome: Outcome;
    if (code === 'ETIMEDOUT') {
      // spawnSync killed the hook itself; the rest of its group goes too.
      killGroup(result.pid);
      outcome = { kind: 'timed-out' };
    } else if (result.error) {
      outcome = { kind: 'not-run', code, message: result.error.message };
    } else {
      outcome = { kind: 'exited', status: result.status, signal: result.signal };
    }
    const error = failure(kind, hook, outcome, files.readOutput());
    if (error) throw error;
  } finally {
    files.close();
  }
}

/** Runs hooks in order; the first failure stops the rest and is thrown. */
export function runHooks(kind: HookKind, hooks: Hook[] | undefined, state: State): void {
  for (const hook of hooks ?? []) runHook(kind, hook, state);
}

export interface AsyncHookOptions {
  /** Aborting kills the running hook's group and fails with the abort's reason. */
  signal?: AbortSignal;
  /** Told as soon as a hook is born (to journal it) and when it has ended. */
  started?: (hook: HookProcess) => void;
  ended?: (hook: HookProcess) => void;
}

/** One hook, without blocking the event loop: signals (SIGTERM to `create`) are handled meanwhile. */
async function runHookAsync(kind: HookKind, hook: Hook, state: State, opts: AsyncHookOptions): Promise<void> {
  opts.signal?.throwIfAborted();
  const files = new HookFiles(kind, state);
  let child: ChildProcess | undefined;
  let started: HookProcess | undefined;
  try {
    const { args, options } = spawnOptions(hook, files);
    child = childProcess().spawn(hook.path, args, options);
    const running = child;
    if (running.pid !== undefined) {
      started = { pid: running.pid, startTime: readProcStat(running.pid)?.startTime ?? 0 };
      opts.started?.(started);
    }
    const outcome = await new Promise<Outcome>((resolve) => {
      let stopped: Outcome | undefined;
      const stop = (why: Outcome) => {
        stopped ??= why;
        if (running.pid !== undefined) killGroup(running.pid);
      };
      const timer = hook.timeout ? setTimeout(() => stop({ kind: 'timed-out' }), hook.timeout * 1000) : undefined;
      const onAbort = () => stop({ kind: 'interrupted', why: String(opts.signal?.reason ?? 'aborted') });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(stopped ?? outcome);
      };
      running.once('error', (err: NodeJS.ErrnoException) => done({ kind: 'not-run', code: err.code, message: err.message }));
      running.once('exit', (status, signal) => done({ kind: 'exited', status, signal }));
    });
    const error = failure(kind, hook, outcome, files.readOutput());
    if (error) throw error;
  } finally {
    if (started) opts.ended?.(started);
    files.close();
  }
}

/** Runs hooks in order without blocking; the first failure stops the rest and is thrown. */
export async function runHooksAsync(kind: HookKind, hooks: Hook[] | undefined, state: State, opts: AsyncHookOptions = {}): Promise<void> {
  for (const hook of hooks ?? []) await runHookAsync(kind, hook, state, opts);
}
