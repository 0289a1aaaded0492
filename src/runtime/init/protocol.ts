// Messages between the orchestrator (the tslab-runtime command) and the container's PID-1 stage,
// one JSON object per line over a socketpair.
import type { Spec, State } from '../spec/types.js';

export interface StagePlan {
  id: string;
  bundle: string;
  rootfs: string;
  stateDir: string;
  spec: Spec;
  noPivot: boolean;
  /** Extra fds passed from the caller, numbered from 3 (runc's --preserve-fds). */
  preserveFds: number;
  /** Host directories of the container's cgroups by hierarchy name, for a `cgroup` mount on v1. */
  cgroupDirs: Array<{ name: string; hostPath: string }>;
  /** Mount cgroup2 (pure v2) rather than binding v1 hierarchies. */
  cgroupV2: boolean;
  /** Host directories of the cgroups the stage joins itself right before execve (a CPU quota would slow it). */
  startCgroups: string[];
  /** process.terminal: the stage makes a pty inside the container and sends its master over fd 4+preserveFds. */
  terminal: boolean;
  /** Some cgroups are joined when the stage is ready for them: it asks (join-cgroups); else that round trip is skipped. */
  joinCgroups: boolean;
  /** The orchestrator has prestart or createRuntime hooks to run: the stage asks (run-hooks); else it is skipped. */
  runtimeHooks: boolean;
  /** The container's state while it is created, as the hooks the stage runs see it. */
  state: State;
}

/**
 * What the stage asks or tells; the orchestrator answers every request with an OrchestratorReply. `ready` is
 * answered with `committed` once the container is recorded (state.json): a stage whose channel closes before
 * that belongs to a create that died, and exits instead of waiting for a `start` that cannot come.
 */
export type StageMessage =
  | { type: 'join-cgroups' }
  | { type: 'run-hooks' }
  | { type: 'pty' }
  | { type: 'ready' }
  | { type: 'error'; message: string };

export type OrchestratorReply = { type: 'ok'; state?: State } | { type: 'committed' } | { type: 'abort'; message: string };
