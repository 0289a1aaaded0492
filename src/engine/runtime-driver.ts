// Which driver runs a container (container-runtime.ts says what a driver does): the built-in runtime is
// called in this process (builtin-runtime.ts: no Node start-up per call); any other runc-compatible
// binary, the learner's `--mine` build among them, through its command line (runtime-cli.ts), as podman
// and containerd drive runc.
import * as path from 'node:path';
import { projectRoot } from '../fs/package.js';
import type { ContainerRuntime } from './container-runtime.js';

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
