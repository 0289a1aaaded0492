// A lesson's checks read kernel state (never printed strings) and say what they saw, what they expected and
// what to try.
import type { LessonInfo } from '../catalog.js';
import type { LessonContainer } from '../lesson-container.js';
import type { Feature } from '../container/plan.js';
import type { ProbeOutcome } from '../probe-calls.js';
import type { StepBuild } from '../step-build.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Facts about the host recorded when the lab session started, to prove a lesson left the host alone. */
export interface HostFacts {
  hostname: string;
}

export interface CheckContext {
  lesson: LessonInfo;
  /** The running lesson container (started by the lesson's `tslab enable` cell), if there is one. */
  container?: LessonContainer;
  /** The features of this lesson's container (the lessons' up to this one), for a container of the check's own. */
  features: Feature[];
  /** The build the checks run against (reference or the learner's). */
  build: StepBuild;
  /** Path of an executable tslab-runtime made from `build` (speaks runc's command line). */
  runtimePath: string;
  /** Calls an exported step function of `build` in a fresh process and returns its JSON result. */
  probe(fn: string, args: unknown[]): Promise<unknown>;
  /** Calls it with each argument list of `calls`, in order, all in one fresh process: the outcome of each. */
  probeEach(fn: string, calls: unknown[][]): Promise<ProbeOutcome[]>;
  /** Runs `sh -c command` inside the lesson container (its namespaces, root, cgroups and capabilities). */
  inContainer(command: string, timeoutMs?: number): Promise<CommandResult>;
  /** Runs `sh -c command` on the host. */
  onHost(command: string, timeoutMs?: number): Promise<CommandResult>;
  host: HostFacts;
  /** Shows a line under the check cell while a long check runs (the capstone: one per test file). */
  progress?(line: string): void;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  saw?: string;
  expected?: string;
  hint?: string;
}

export type LessonCheck = (ctx: CheckContext) => Promise<CheckResult[]>;
