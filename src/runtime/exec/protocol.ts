// Messages between the exec orchestrator (`tslab-runtime exec`, the lab's enter) and the exec stage, one JSON
// object per line over a socketpair. The stage's fd of that socketpair is close-on-exec: its end (EOF after
// `ready`) tells the orchestrator that execve() happened.
import type { Process, Seccomp } from '../spec/types.js';

export interface ExecPlan {
  /** The container's init as the host sees it: its namespaces and root are joined. */
  pid: number;
  /** /proc/<pid>/stat start time: the init must still be that process once its namespaces are open. */
  startTime: number;
  process: Process;
  /** Extra fds passed from the caller, numbered from 3 (runc's --preserve-fds). */
  preserveFds: number;
  /** The stage makes a pty inside the container and sends its master over fd 4+preserveFds. */
  terminal: boolean;
  /** The container's linux.seccomp, applied to the exec'd process as to the init. */
  seccomp?: Seccomp;
}

/**
 * What the stage asks (join-cgroups, pty: answered with ExecReply) or tells (ready, error). join-cgroups
 * carries the stage's host pid: a detached stage is not the orchestrator's child and is known by it only.
 */
export type ExecMessage = { type: 'join-cgroups'; pid: number } | { type: 'pty' } | { type: 'ready' } | { type: 'error'; message: string };

export type ExecReply = { type: 'ok' } | { type: 'abort'; message: string };
