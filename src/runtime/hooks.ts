// OCI hooks: each runs with the container's state JSON on stdin; a non-zero exit or a timeout fails it.
import { spawnSync } from 'node:child_process';
import { RuntimeError } from './errors.js';
import type { Hook, State } from './spec/types.js';

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export class HookError extends RuntimeError {}

function envObject(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

export function runHook(kind: HookKind, hook: Hook, state: State): void {
  const args = hook.args ?? [hook.path];
  const result = spawnSync(hook.path, args.slice(1), {
    argv0: args[0] ?? hook.path,
    env: envObject(hook.env),
    input: JSON.stringify(state),
    timeout: hook.timeout ? hook.timeout * 1000 : undefined,
    killSignal: 'SIGKILL',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  const detail = output ? `: ${output}` : '';
  // A hook that exits without reading its stdin makes our write of the state fail with EPIPE: not its fault.
  if (result.error && (result.error as NodeJS.ErrnoException).code !== 'EPIPE') {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') throw new HookError(`${kind} hook ${hook.path} timed out after ${hook.timeout}s`);
    throw new HookError(`${kind} hook ${hook.path} could not run: ${code ?? result.error.message}`);
  }
  if (result.signal) throw new HookError(`${kind} hook ${hook.path} was killed by ${result.signal}${detail}`);
  if (result.status !== 0) throw new HookError(`${kind} hook ${hook.path} exited with status ${result.status}${detail}`);
}

/** Runs hooks in order; the first failure stops the rest and is thrown. */
export function runHooks(kind: HookKind, hooks: Hook[] | undefined, state: State): void {
  for (const hook of hooks ?? []) runHook(kind, hook, state);
}
