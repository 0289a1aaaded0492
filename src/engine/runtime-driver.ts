// How the engine drives a container runtime: create, start, kill, delete, and the init's end. The built-in
// runtime is called in this process (builtin-runtime.ts: no Node start-up per call); any other
// runc-compatible binary, the learner's `--mine` build among them, through its command line
// (runtime-cli.ts), as podman and containerd drive runc.
import * as path from 'node:path';
import { projectRoot } from '../fs/package.js';

export interface InitEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CreatedInit {
  pid: number;
  /** The pty master of a container made with a terminal. */
  terminalMaster?: number;
  /** Resolves when the init (the container's PID 1) has ended and been reaped. */
  ended: Promise<InitEnd>;
}

export interface CreateRequest {
  id: string;
  bundle: string;
  /** The container's stdin, stdout and stderr: 'inherit' is ours, 'ignore' is /dev/null, a number is an fd. */
  stdio: Array<'inherit' | 'ignore' | number>;
  terminal: boolean;
  /** A directory of the container's own for the runtime's files (pid file, log). */
  workDir: string;
}

/** The runtime refused; `message` is what it said. */
export class RuntimeCallError extends Error {
  constructor(
    message: string,
    /** The runtime printed it itself, on the stderr it shares with the container. */
    readonly shown = false,
  ) {
    super(message);
  }
}

export interface ContainerRuntime {
  create(request: CreateRequest): Promise<CreatedInit>;
  start(id: string): void;
  kill(id: string, signal: string): void;
  delete(id: string, force: boolean): void;
}

/** The tslab-runtime executable of this package. */
export function builtinRuntimePath(): string {
  return path.join(projectRoot(), 'bin', 'tslab-runtime.cjs');
}

/** The driver for a container made with the runtime at `executable`. */
export async function runtimeDriver(executable: string): Promise<ContainerRuntime> {
  if (path.resolve(executable) === builtinRuntimePath()) {
    const { BuiltinRuntime } = await import('./builtin-runtime.js');
    return new BuiltinRuntime();
  }
  const { CliRuntime } = await import('./runtime-cli.js');
  return new CliRuntime(executable);
}

/** docker's exit codes for a container that could not start: 127 not found, 126 cannot execute, 125 ours. */
export function startFailureStatus(error: string): number {
  if (/executable file not found|exec: ".*": stat .*: no such file or directory/i.test(error)) return 127;
  if (/permission denied|is a directory|exec format error|EACCES/i.test(error)) return 126;
  return 125;
}
