// The lesson container's life on the lab side: prepare what the host must provide (a rootfs copy, cgroups
// with limits, a veth pair), journal each change before making it, run the launcher, and tear it all down.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDefaultRootfs } from '../fs/busybox-rootfs.js';
import { newCgroupManager } from '../runtime/cgroups/index.js';
import type { Resources } from '../runtime/spec/types.js';
import { readProcStat } from '../linux/proc.js';
import { DOCKER_DEFAULT_CAPABILITIES, capabilityNumber } from '../runtime/capabilities.js';
import { FEATURE, type LaunchPlan, type LaunchResult } from './container/plan.js';
import * as journal from './journal.js';
import { labStateDir, projectRoot } from './paths.js';
import type { StepBuild } from './step-build.js';

export interface LessonContainer {
  pid: number;
  startTime: number;
  level: number;
  lesson: string;
  hostname: string;
  rootSwitch: LaunchPlan['rootSwitch'];
  cgroupDirs: string[];
  /** controller -> directory, for the cgroup lesson's limits and counters. */
  cgroupPaths: Record<string, string>;
  veth?: LaunchPlan['veth'];
  mineSteps: string[];
}

/** The limits of the cgroup lesson: small enough to hit in a few seconds. */
export const LESSON_LIMITS = { memoryBytes: 48 * 1024 * 1024, pids: 32, cpuQuotaUs: 20000, cpuPeriodUs: 100000 } as const;

/** Docker's default capability set: what the lesson container keeps from lesson 8 on. */
export const KEPT_CAPABILITIES = DOCKER_DEFAULT_CAPABILITIES;

export const LESSON_VETH = { host: 'tslab-lab0', peer: 'eth0', hostAddress: '10.231.0.1', peerAddress: '10.231.0.2', prefixLength: 24 };

export class LaunchError extends Error {
  constructor(
    message: string,
    readonly notWrittenYet?: { lesson: number; fn: string; file: string },
  ) {
    super(message);
  }
}

function containerFile(): string {
  return path.join(labStateDir(), 'container.json');
}

/** The lab's own copy of the busybox root filesystem (lessons 5 and later). */
export function labRootfs(): string {
  return path.join(labStateDir(), 'rootfs');
}

export function currentContainer(): LessonContainer | undefined {
  try {
    const saved = JSON.parse(fs.readFileSync(containerFile(), 'utf8')) as LessonContainer;
    return readProcStat(saved.pid)?.startTime === saved.startTime ? saved : undefined;
  } catch {
    return undefined;
  }
}

/** Ends the lesson container and undoes every host change the lab recorded. Returns what was undone. */
export function stopLessonContainer(): string[] {
  fs.rmSync(containerFile(), { force: true });
  return journal.undo();
}

function prepareRootfs(): void {
  const target = labRootfs();
  journal.record({ kind: 'dir', path: target });
  fs.rmSync(target, { recursive: true, force: true });
  fs.cpSync(ensureDefaultRootfs(), target, { recursive: true, verbatimSymlinks: true });
  // A marker that only exists inside the container's root: the breakout checks look for it.
  fs.writeFileSync(path.join(target, '.tslab-lesson-root'), 'you are inside the lesson container\n');
}

/** The lesson container's cgroups with LESSON_LIMITS, journalled before they are made. */
export function prepareCgroups(id: string): { dirs: string[]; paths: Record<string, string> } {
  const manager = newCgroupManager({ id, cgroupsPath: `tslab-lab/${id}` });
  const resources: Resources = {
    // swap = limit: memory plus swap may not exceed the limit, so a machine with swap still OOM-kills.
    memory: { limit: LESSON_LIMITS.memoryBytes, swap: LESSON_LIMITS.memoryBytes },
    pids: { limit: LESSON_LIMITS.pids },
    cpu: { quota: LESSON_LIMITS.cpuQuotaUs, period: LESSON_LIMITS.cpuPeriodUs },
  };
  // Journalled before the mkdirs: a lab killed in between leaves directories `tslab reset` knows of (undoing
  // the entry removes only what exists, so one recorded but never made is no trouble).
  const intended = manager.intended();
  journal.record({ kind: 'cgroups', saved: intended });
  manager.create();
  const made = manager.toJSON();
  // create() skips a directory someone else made in the meantime: the journal must not claim it.
  if (JSON.stringify(made) !== JSON.stringify(intended)) journal.replace({ kind: 'cgroups', saved: intended }, { kind: 'cgroups', saved: made });
  manager.apply(resources);
  return { dirs: [...new Set(Object.values(manager.paths))], paths: manager.paths };
}

function runLauncher(build: StepBuild, plan: LaunchPlan): Promise<LaunchResult> {
  const launcher = path.join(build.dir, 'lab', 'container', 'launcher.cjs');
  return new Promise((resolve) => {
    execFile(process.execPath, [launcher, JSON.stringify(plan)], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line ?? '') as LaunchResult);
      } catch {
        resolve({ ok: false, error: `the launcher failed: ${(stderr || err?.message || 'no output').trim()}` });
      }
    });
  });
}

export interface StartOptions {
  level: number;
  lesson: string;
  rootSwitch?: LaunchPlan['rootSwitch'];
  build: StepBuild;
}

/** Replaces any running lesson container with one at `level`. */
export async function startLessonContainer(opts: StartOptions): Promise<LessonContainer> {
  stopLessonContainer();
  const id = `lesson-${opts.level}`;
  const hostname = `lesson-${opts.level}`;
  const rootSwitch = opts.rootSwitch ?? 'pivot';
  try {
    if (opts.level >= FEATURE.rootfs) prepareRootfs();
    const cgroups = opts.level >= FEATURE.cgroups ? prepareCgroups(id) : { dirs: [], paths: {} };
    const veth = opts.level >= FEATURE.network ? LESSON_VETH : undefined;
    if (veth) journal.record({ kind: 'veth', name: veth.host });
    const plan: LaunchPlan = {
      level: opts.level,
      hostname,
      rootfs: labRootfs(),
      rootSwitch,
      cgroupDirs: cgroups.dirs,
      veth,
      keepCapabilities: KEPT_CAPABILITIES.map(capabilityNumber),
    };
    const result = await runLauncher(opts.build, plan);
    if (!result.ok) throw new LaunchError(result.error, result.notWrittenYet);
    const startTime = readProcStat(result.pid)?.startTime;
    if (startTime === undefined) throw new LaunchError(`the lesson container (pid ${result.pid}) exited right after it started`);
    journal.record({ kind: 'process', pid: result.pid, startTime });
    const container: LessonContainer = {
      pid: result.pid,
      startTime,
      level: opts.level,
      lesson: opts.lesson,
      hostname,
      rootSwitch,
      cgroupDirs: cgroups.dirs,
      cgroupPaths: cgroups.paths,
      veth,
      mineSteps: opts.build.mineSteps,
    };
    fs.writeFileSync(containerFile(), JSON.stringify(container, null, 2));
    return container;
  } catch (err) {
    stopLessonContainer();
    throw err;
  }
}

/** `argv` that runs a command inside the container (what `tslab shell` and container cells use). */
export function enterCommand(container: LessonContainer, command: string[]): string[] {
  const enter = path.join(projectRoot(), 'dist', 'runtime', 'enter.cjs');
  return [process.execPath, enter, String(container.pid), ...container.cgroupDirs.flatMap((d) => ['--cgroup', d]), '--', ...command];
}

/** The equivalent nsenter line, printed so a learner can inspect the container from a second terminal. */
export function nsenterLine(container: LessonContainer): string {
  return `nsenter --target ${container.pid} --all --root --wd /bin/sh`;
}
