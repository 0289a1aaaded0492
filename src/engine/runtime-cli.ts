// The engine drives tslab-runtime through its runc command line, as podman and containerd drive runc.
import { spawnSync, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import { runtimeRoot } from './paths.js';

export interface RuntimeResult {
  status: number;
  /** The runtime's error message, if it failed. */
  error: string;
}

export interface RuntimeCall {
  /** `create` hands its stdio to the container: a pipe here would keep us waiting for the container. */
  stdio?: StdioOptions;
  /** Errors are read back from this JSON log (as containerd does), since stderr may be the container's. */
  logFile?: string;
}

function lastLoggedError(logFile: string): string {
  try {
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').reverse();
    for (const line of lines) {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) return entry.msg;
    }
  } catch {
    // No log, or not JSON: nothing to add.
  }
  return '';
}

export function callRuntime(runtime: string, args: string[], call: RuntimeCall = {}): RuntimeResult {
  const logArgs = call.logFile ? ['--log', call.logFile, '--log-format', 'json'] : [];
  if (call.logFile) fs.rmSync(call.logFile, { force: true });
  const stdio = call.stdio ?? ['ignore', 'ignore', 'pipe'];
  const result = spawnSync(runtime, ['--root', runtimeRoot(), ...logArgs, ...args], { stdio, encoding: 'utf8' });
  if (result.error) return { status: 125, error: `${runtime}: ${result.error.message}` };
  const stderr = typeof result.stderr === 'string' ? result.stderr.trim().replace(/^tslab-runtime: /, '') : '';
  const error = result.status === 0 ? '' : (call.logFile ? lastLoggedError(call.logFile) : '') || stderr;
  return { status: result.status ?? 125, error };
}

/** docker's exit codes for a container that could not start: 127 not found, 126 cannot execute, 125 ours. */
export function startFailureStatus(error: string): number {
  if (/executable file not found|no such executable file/i.test(error)) return 127;
  if (/permission denied|is a directory|exec format error|EACCES/i.test(error)) return 126;
  return 125;
}
