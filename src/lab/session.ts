// One run of the lab: which steps are the learner's, the lesson container, cells and checks. The notebook
// (interactive), `--yes` (headless), `tslab check` and `tslab demo` all drive a session.
import type { ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { featuresThrough, type LessonInfo } from './catalog.js';
import { checkFile, checkFor } from './checks/index.js';
import type { CheckContext, CheckResult, CommandResult, HostFacts } from './checks/types.js';
import { killGroup, runCommand, runInContainer } from './commands.js';
import {
  LaunchError,
  currentContainer,
  labRootfs,
  startLessonContainer,
  stopLessonContainer,
  type LessonContainer,
} from './lesson-container.js';
import type { LaunchPlan } from './container/plan.js';
import { ensureDefaultRootfs } from '../fs/busybox-rootfs.js';
import { diffKernelState, readKernelState, type DiffRow } from './kernel-state.js';
import type { Cell } from './markdown.js';
import type { Progress } from './progress.js';
import { projectRoot } from './paths.js';
import { probeEach, probeOnce } from './probe-calls.js';
import { buildWithSteps, runtimeExecutable, type StepBuild } from './step-build.js';

export type StepSource = 'reference' | 'mine';

export type EnableOutcome =
  | { ok: true; beforeTitle: string; diff: DiffRow[]; container: LessonContainer }
  | { ok: false; error: string };

function hostFacts(): HostFacts {
  return { hostname: os.hostname() };
}

/** The message for a launch that failed, turning a missing piece into what to do next. */
function explainLaunchError(err: unknown): string {
  if (err instanceof LaunchError && err.notWrittenYet) {
    const { lesson, fn, file } = err.notWrittenYet;
    return `${err.message}\nOpen sandbox/steps/${file}, fill in ${fn}() (\`tslab solution ${lesson}\` shows the reference), then run this cell again.`;
  }
  return err instanceof Error ? err.message : String(err);
}

export class LabSession {
  readonly host = hostFacts();
  container: LessonContainer | undefined;
  private running: ChildProcess | undefined;

  constructor(
    readonly catalog: LessonInfo[],
    readonly source: StepSource,
    readonly progress: Progress,
  ) {}

  /** Steps taken from the sandbox for a lesson: its own piece, and earlier ones whose checks passed on the learner's code. */
  stepsFor(lesson: LessonInfo): string[] {
    if (this.source === 'reference') return [];
    const isCapstone = !lesson.piece;
    return this.catalog
      .filter((l) => l.piece && l.number <= lesson.number && (isCapstone || l.number === lesson.number || this.progress.lessons[l.id]?.passedWithMine))
      .map((l) => l.piece!.file);
  }

  /** Like stepsFor, but for the container a lesson starts from (its own piece not yet in use). */
  private stepsBefore(lesson: LessonInfo): string[] {
    return this.stepsFor(lesson).filter((file) => file !== lesson.piece?.file);
  }

  build(lesson: LessonInfo, own = true): Promise<StepBuild> {
    return buildWithSteps(own ? this.stepsFor(lesson) : this.stepsBefore(lesson));
  }

  /** Starts the container a lesson begins from: the previous lesson's features. */
  async prepareLesson(lesson: LessonInfo, featuresOn: boolean, rootSwitch?: LaunchPlan['rootSwitch']): Promise<string | undefined> {
    const level = featuresOn ? lesson.number : lesson.number - 1;
    const features = featuresThrough(this.catalog, level);
    const current = currentContainer();
    if (!lesson.feature || features.length === 0) {
      if (current) stopLessonContainer();
      this.container = undefined;
      return undefined;
    }
    if (current && current.level === level && current.lesson === lesson.id) {
      this.container = current;
      return undefined;
    }
    try {
      const build = await this.build(lesson, featuresOn);
      this.container = await startLessonContainer({ level, features, lesson: lesson.id, build, rootSwitch });
      return undefined;
    } catch (err) {
      this.container = undefined;
      return `could not start the lesson container with the features so far: ${explainLaunchError(err)}`;
    }
  }

  /** The `tslab enable` cell: restart the container with this lesson's feature on, and diff the kernel state. */
  async enable(lesson: LessonInfo, cell: Cell): Promise<EnableOutcome> {
    const before = this.container ? readKernelState(this.container.pid, this.container.cgroupDirs) : readKernelState(process.pid);
    const beforeTitle = this.container ? `before (level ${this.container.level})` : 'before (the host)';
    try {
      const build = await this.build(lesson);
      const rootSwitch = cell.args.includes('chroot') ? 'chroot' : 'pivot';
      const features = featuresThrough(this.catalog, lesson.number);
      this.container = await startLessonContainer({ level: lesson.number, features, lesson: lesson.id, build, rootSwitch });
    } catch (err) {
      this.container = undefined;
      return { ok: false, error: explainLaunchError(err) };
    }
    const after = readKernelState(this.container.pid, this.container.cgroupDirs);
    return { ok: true, beforeTitle, diff: diffKernelState(before, after), container: this.container };
  }

  cellEnv(runtimePath?: string): NodeJS.ProcessEnv {
    return {
      ...process.env,
      TSLAB_PID: this.container ? String(this.container.pid) : '',
      TSLAB_LEVEL: this.container ? String(this.container.level) : '0',
      TSLAB_CGROUP_DIRS: this.container?.cgroupDirs.join(' ') ?? '',
      TSLAB_ROOTFS: this.container?.features.includes('rootfs') ? labRootfs() : '',
      TSLAB_IMAGE_ROOTFS: ensureDefaultRootfs(),
      TSLAB_PROJECT: projectRoot(),
      ...(runtimePath ? { TSLAB_RUNTIME: runtimePath } : {}),
    };
  }

  async runShell(lesson: LessonInfo, cell: Cell, onLine: (line: string, stream: 'stdout' | 'stderr') => void): Promise<CommandResult> {
    const runtimePath = runtimeExecutable(await this.build(lesson));
    const opts = { env: this.cellEnv(runtimePath), cwd: projectRoot(), onLine, onStart: (child: ChildProcess) => (this.running = child) };
    const done = () => (this.running = undefined);
    if (cell.kind !== 'container') return runCommand(['/bin/sh', '-c', cell.code], opts).finally(done);
    if (!this.container) {
      const message = 'the lesson container is not running: run the lesson\'s "switch the feature on" cell first';
      onLine(message, 'stderr');
      return { code: 125, stdout: '', stderr: message };
    }
    return runInContainer(this.container.pid, this.container.cgroupDirs, ['/bin/sh', '-c', cell.code], opts).finally(done);
  }

  async check(lesson: LessonInfo, onProgress?: (line: string) => void): Promise<CheckResult[]> {
    const check = await checkFor(lesson);
    if (!check) return [{ name: `lesson ${lesson.id} has checks`, ok: false, saw: 'none', expected: `a check module ${checkFile(lesson)}`, hint: 'this is a bug in tslab' }];
    let build: StepBuild;
    try {
      build = await this.build(lesson);
    } catch (err) {
      return [{ name: 'your sandbox builds', ok: false, saw: err instanceof Error ? err.message : String(err), hint: lesson.hints[0] }];
    }
    const runtimePath = runtimeExecutable(build);
    const ctx: CheckContext = {
      lesson,
      features: featuresThrough(this.catalog, lesson.number),
      container: this.container,
      build,
      runtimePath,
      probe: (fn, args) => probeOnce(build, fn, args),
      probeEach: (fn, calls) => probeEach(build, fn, calls),
      inContainer: async (command, timeoutMs) => {
        if (!this.container) return { code: 125, stdout: '', stderr: 'the lesson container is not running' };
        return runInContainer(this.container.pid, this.container.cgroupDirs, ['/bin/sh', '-c', command], { timeoutMs, onStart: (child) => (this.running = child) });
      },
      onHost: (command, timeoutMs) =>
        runCommand(['/bin/sh', '-c', command], { timeoutMs, env: this.cellEnv(runtimePath), onStart: (c) => (this.running = c) }),
      host: this.host,
      progress: onProgress,
    };
    try {
      return await check(ctx);
    } catch (err) {
      return [{ name: `lesson ${lesson.number} checks`, ok: false, saw: err instanceof Error ? err.message : String(err), hint: lesson.hints[0] }];
    } finally {
      this.running = undefined;
    }
  }

  /** Ends a cell that is running (Ctrl-C). */
  abortRunning(): void {
    if (this.running) killGroup(this.running);
  }

  /** Ends the lesson container and undoes every recorded host change. */
  close(): string[] {
    this.abortRunning();
    this.container = undefined;
    return stopLessonContainer();
  }
}
