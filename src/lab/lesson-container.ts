// The lesson container's life on the lab side: prepare what the host must provide (a rootfs copy, cgroups
// with limits, a veth pair), journal each change before making it, run the launcher, and tear it all down.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDefaultRootfs } from '../fs/busybox-rootfs.js';
import { newCgroupManager } from '../runtime/cgroups/index.js';
import { readProcStat } from '../linux/proc.js';
import { DOCKER_DEFAULT_CAPABILITIES, capabilityNumber } from '../runtime/process/capability-names.js';
import type { Feature, LaunchPlan, LaunchResult, UsernsPlan } from './container/plan.js';
import * as journal from './journal.js';
import { labStateDir, projectRoot } from './paths.js';
import type { StepBuild } from './step-build.js';

export interface LessonContainer {
  pid: number;
  startTime: number;
  level: number;
  features: Feature[];
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

/** The user namespace lesson's ids: 0..65535 inside are the host's 100000..165535, as podman's first subuid range. */
export const LESSON_USERNS: UsernsPlan = {
  uids: [{ inside: 0, outside: 100000, count: 65536 }],
  gids: [{ inside: 0, outside: 100000, count: 65536 }],
};

/** A file of the host's root in the lesson container's root, from lesson 12 on: the container's root must not be able to write it. */
export const HOST_OWNED_FILE = '.tslab-host-owned';
export const HOST_OWNED_TEXT = 'owned by the host\'s root\n';

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

/** The lab's own copy of the busybox root filesystem (from the 'rootfs' feature on). */
export function labRootfs(): string {
  return path.join(labStateDir(), 'rootfs');
}

export function currentContainer(): LessonContainer | undefined {
  try {
    const saved = JSON.parse(fs.readFileSync(containerFile(), 'utf8')) as LessonContainer;
    // A record without features was written before lessons.json named them: start afresh.
    return readProcStat(saved.pid)?.startTime === saved.startTime && Array.isArray(saved.features) ? saved : undefined;
  } catch {
    return undefined;
  }
}

/** Ends the lesson container and undoes every host change the lab recorded. Returns what was undone. */
export function stopLessonContainer(): string[] {
  fs.rmSync(containerFile(), { force: true });
  return journal.undo();
}

/** Adds `uid`/`gid` to the owner of every file below `dir`: the host ids that the container's own ids are. */
function shiftOwners(dir: string, uid: number, gid: number): void {
  const seen = new Set<number>(); // a hard link is one file: shift it once
  for (const name of ['', ...(fs.readdirSync(dir, { recursive: true }) as string[])]) {
    const file = path.join(dir, name);
    const st = fs.lstatSync(file);
    if (seen.has(st.ino)) continue;
    seen.add(st.ino);
    fs.lchownSync(file, st.uid + uid, st.gid + gid);
    // chown clears set-id bits: give them back.
    if (!st.isSymbolicLink() && st.mode & 0o6000) fs.chmodSync(file, st.mode & 0o7777);
  }
}

function prepareRootfs(userns: UsernsPlan | undefined): void {
  const target = labRootfs();
  journal.record({ kind: 'dir', path: target });
  fs.rmSync(target, { recursive: true, force: true });
  fs.cpSync(ensureDefaultRootfs(), target, { recursive: true, verbatimSymlinks: true });
  // A marker that only exists inside the container's root: the breakout checks look for it.
  fs.writeFileSync(path.join(target, '.tslab-lesson-root'), 'you are inside the lesson container\n');
  if (userns) {
    // The busybox files belong to root: in the container that is its root, 100000 on the host.
    shiftOwners(target, userns.uids[0].outside, userns.gids[0].outside);
    fs.writeFileSync(path.join(target, HOST_OWNED_FILE), HOST_OWNED_TEXT, { mode: 0o644 });
  }
}

/**
 * The lab's side of the lesson container's cgroups: the journal entry for all of them (the parents and the
 * learner's cgroups, recorded before any mkdir), and the parent tslab-lab in each hierarchy, set up so that a
 * plain mkdir below it makes a cgroup that takes the limits and a process. The learner's piece makes `id`.
 */
export function prepareCgroups(id: string): { parents: string[]; dirs: string[]; paths: Record<string, string> } {
  const lesson = newCgroupManager({ id, cgroupsPath: `tslab-lab/${id}` });
  // Undoing the entry removes only what exists: the cgroups the piece has not made yet are no trouble.
  journal.record({ kind: 'cgroups', saved: lesson.intended() });
  const parent = newCgroupManager({ id: 'tslab-lab', cgroupsPath: 'tslab-lab' });
  parent.create();
  if (parent.mode === 'v2') {
    // The parent's own cgroup must offer these controllers (its parent enables them: that is what apply does
    // for the files it writes, here "max"), and the parent must enable them for its children in turn.
    parent.apply({ memory: { limit: -1 }, pids: { limit: -1 }, cpu: { quota: -1 } });
  }
  for (const [key, dir] of Object.entries(parent.paths)) {
    const controllersFile = path.join(dir, 'cgroup.controllers');
    if (fs.existsSync(controllersFile)) {
      const offered = fs.readFileSync(controllersFile, 'utf8');
      const wanted = offered.split(/\s+/).filter((c) => ['memory', 'pids', 'cpu'].includes(c));
      if (wanted.length) fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
    } else if (key.split(',').includes('cpuset')) {
      // A new v1 cpuset cgroup has no cpus or mems, and nothing can join it (ENOSPC), unless it copies its parent's.
      fs.writeFileSync(path.join(dir, 'cgroup.clone_children'), '1');
    }
  }
  return { parents: [...new Set(Object.values(parent.paths))], dirs: [...new Set(Object.values(lesson.paths))], paths: lesson.paths };
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
  /** The features of `level` (catalog.ts featuresThrough). */
  features: Feature[];
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
    const userns = opts.features.includes('userns') ? LESSON_USERNS : undefined;
    if (opts.features.includes('rootfs')) prepareRootfs(userns);
    const cgroups = opts.features.includes('cgroups') ? prepareCgroups(id) : { parents: [], dirs: [], paths: {} };
    const veth = opts.features.includes('network') ? LESSON_VETH : undefined;
    if (veth) journal.record({ kind: 'veth', name: veth.host });
    const plan: LaunchPlan = {
      features: opts.features,
      hostname,
      rootfs: labRootfs(),
      rootSwitch,
      cgroups: cgroups.parents.length ? { parents: cgroups.parents, name: id, limits: LESSON_LIMITS } : undefined,
      veth,
      keepCapabilities: KEPT_CAPABILITIES.map(capabilityNumber),
      userns,
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
      features: opts.features,
      lesson: opts.lesson,
      hostname,
      rootSwitch,
      cgroupDirs: cgroups.dirs,
      cgroupPaths: cgroups.paths,
      veth,
      mineSteps: opts.build.mineSteps,
    };
    // Whole or not at all, as the journal and progress are: a crash mid-write must not leave an empty record.
    fs.writeFileSync(`${containerFile()}.tmp`, JSON.stringify(container, null, 2));
    fs.renameSync(`${containerFile()}.tmp`, containerFile());
    return container;
  } catch (err) {
    stopLessonContainer();
    throw err;
  }
}

/** `argv` that runs a command inside the container (what `tslab shell` and container cells use). */
export function enterCommand(container: LessonContainer, command: string[]): string[] {
  const enter = path.join(projectRoot(), 'dist', 'runtime', 'exec', 'enter.cjs');
  return [process.execPath, enter, String(container.pid), ...container.cgroupDirs.flatMap((d) => ['--cgroup', d]), '--', ...command];
}

/** The equivalent nsenter line, printed so a learner can inspect the container from a second terminal. */
export function nsenterLine(container: LessonContainer): string {
  return `nsenter --target ${container.pid} --all --root --wd /bin/sh`;
}
