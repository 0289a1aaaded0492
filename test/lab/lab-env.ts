// Shared by the lab tests: running `node bin/tslab.cjs` with its state in a temp dir, a pristine copy of
// the starter sandbox, and what the lab may leave on the host (its journal, the veth `tslab-lab0`, cgroups
// under `tslab-lab`, lesson container processes, mounts under the data dir). It only reads the host: the
// one exception, killContainerSessions, ends (by pid) what a lab run started by the test left running.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inject } from 'vitest';
import { loadCatalog, type LessonInfo } from '../../src/lab/catalog.js';
import { IDLE_PROGRAM } from '../../src/lab/container/plan.js';
import { parseLesson, cellsOf, type Cell } from '../../src/lab/markdown.js';
import { findPrefixedCgroups, isMountedUnder } from '../helpers/leaks.js';
import { REPO_ROOT } from '../helpers/runtime.js';

export { REPO_ROOT };
export const TSLAB = path.join(REPO_ROOT, 'bin', 'tslab.cjs');
export const LESSONS_DIR = path.join(REPO_ROOT, 'lessons');
export const LAB_VETH = 'tslab-lab0';
export const LAB_CGROUP = 'tslab-lab';

export const catalog: LessonInfo[] = loadCatalog(LESSONS_DIR);

export function lessonExists(info: LessonInfo): boolean {
  return fs.existsSync(path.join(LESSONS_DIR, info.file));
}

/** The runnable cells of a lesson file (as the notebook numbers them). */
export function lessonCells(info: LessonInfo): Cell[] {
  return cellsOf(parseLesson(fs.readFileSync(path.join(LESSONS_DIR, info.file), 'utf8'), info.file));
}

// --- temp dirs ------------------------------------------------------------------------------------

let base: string | undefined;

/** The run's temp dir from global setup (so the run's leak check covers it), or one fresh dir per file. */
function runBase(): string {
  const provided = (inject as unknown as (key: string) => { base?: string } | undefined)('tslabTest');
  base ??= provided?.base ?? path.join(os.tmpdir(), `tslabtest-${randomBytes(3).toString('hex')}`);
  return base;
}

/** A directory of temp dirs for one test file; `make()` gives a fresh one, `removeAll()` deletes them. */
export function tempDirs(fileLabel: string): { make(label: string): string; removeAll(): void } {
  let made: string[] = [];
  let counter = 0;
  return {
    make(label: string) {
      const dir = path.join(runBase(), `lab-${fileLabel}`, `${label}-${++counter}`);
      fs.mkdirSync(dir, { recursive: true });
      made.push(dir);
      return dir;
    },
    removeAll() {
      const errors: string[] = [];
      for (const dir of made) {
        // Never recurse through a mount: that would delete what is mounted there.
        if (isMountedUnder(dir)) errors.push(`${dir} still has mounts below it; not removing it`);
        else fs.rmSync(dir, { recursive: true, force: true });
      }
      made = [];
      const parent = path.join(runBase(), `lab-${fileLabel}`);
      if (fs.existsSync(parent) && !fs.readdirSync(parent).length) fs.rmdirSync(parent);
      if (errors.length) throw new Error(errors.join('\n'));
    },
  };
}

/** A `cp -a` copy of the repository's sandbox (the pristine starter) at `<dir>/sandbox`. */
export function copyStarterSandbox(dir: string): string {
  const target = path.join(dir, 'sandbox');
  fs.cpSync(path.join(REPO_ROOT, 'sandbox'), target, { recursive: true, verbatimSymlinks: true });
  return target;
}

// --- running tslab --------------------------------------------------------------------------------

export interface TslabResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr as they arrived. */
  output: string;
  timedOut: boolean;
}

export interface TslabOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run under another command (e.g. setpriv ...): argv goes before `node bin/tslab.cjs`. */
  wrapper?: string[];
  /** Another copy of bin/tslab.cjs to run (see test/helpers/unprivileged.ts). */
  tslab?: string;
}

/** Children started by runTslab and still running: killed (by their process group) if a test gives up. */
const running = new Set<ChildProcess>();

export function describeResult(r: TslabResult): string {
  return `exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}\n--- output ---\n${r.output}`;
}

/**
 * Runs `node bin/tslab.cjs ARGS` in its own process group, without a terminal (stdin /dev/null,
 * NO_COLOR), and resolves when it exits. On timeout the whole group is SIGKILLed.
 */
export function runTslab(args: string[], opts: TslabOptions = {}): Promise<TslabResult> {
  const argv = [...(opts.wrapper ?? []), process.execPath, opts.tslab ?? TSLAB, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  const out = { stdout: '', stderr: '', output: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out.stdout += s;
    out.output += s;
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    out.stderr += s;
    out.output += s;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, opts.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, ...out, timedOut });
    });
  });
}

export function killGroup(child: ChildProcess): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Kills (by process group) whatever runTslab started that is still running. */
export async function killStragglers(): Promise<void> {
  const left = [...running];
  for (const child of left) killGroup(child);
  await Promise.all(left.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('close', r)))));
}

// --- what the lab may leave behind -----------------------------------------------------------------

export interface LabHostSnapshot {
  veth: boolean;
  cgroups: string[];
  containers: number[];
}

const IDLE_COMMAND = IDLE_PROGRAM.join(' ');

/** Pids of running lesson containers (any lab's): processes running the lesson container's idle program. */
export function lessonContainerPids(): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      continue;
    }
    if (cmdline === IDLE_COMMAND) found.push(Number(name));
  }
  return found.sort((a, b) => a - b);
}

export function vethExists(): boolean {
  return fs.existsSync(path.join('/sys/class/net', LAB_VETH));
}

/** Cgroup directories named `tslab-lab*` in every hierarchy (read only). */
export function labCgroups(): string[] {
  return findPrefixedCgroups(LAB_CGROUP);
}

export function snapshotLabHost(): LabHostSnapshot {
  return { veth: vethExists(), cgroups: labCgroups(), containers: lessonContainerPids() };
}

/**
 * Collects the pid of every lesson container a lab run with state in `dataDir` starts, by polling its
 * `lab/container.json`, so that the leak check can look for what those containers left (their session).
 */
export function watchContainers(dataDir: string): { pids: Set<number>; stop(): Set<number> } {
  const pids = new Set<number>();
  const file = path.join(dataDir, 'lab', 'container.json');
  const poll = () => {
    try {
      const pid = (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
      if (typeof pid === 'number') pids.add(pid);
    } catch {
      // not there (yet), or being written
    }
  };
  const timer = setInterval(poll, 5);
  return {
    pids,
    stop() {
      clearInterval(timer);
      poll();
      return pids;
    },
  };
}

/** Session id and state of a process from /proc/<pid>/stat; undefined when it is gone. */
function sessionOf(pid: string): { session: number; state: string; cmd: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { state: fields[0]!, session: Number(fields[3]), cmd };
  } catch {
    return undefined;
  }
}

/** Live processes in the sessions of the given lesson containers (the container and anything it started). */
export function processesOfContainers(containerPids: Iterable<number>): string[] {
  const sessions = new Set(containerPids);
  if (!sessions.size) return [];
  const found: string[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = sessionOf(name);
    if (s && sessions.has(s.session) && s.state !== 'Z' && s.state !== 'X') {
      found.push(`process ${name} (${s.cmd || '?'}) of lesson container ${s.session}`);
    }
  }
  return found;
}

/**
 * Cleanup after a failed leak check: SIGKILLs, by pid, the live processes in the sessions of lesson
 * containers this test's lab run started (as recorded by watchContainers). Returns what it killed.
 */
export function killContainerSessions(containerPids: Iterable<number>): string[] {
  const found = processesOfContainers(containerPids);
  for (const line of found) {
    const pid = Number(/^process (\d+)/.exec(line)![1]);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return found;
}

/**
 * What a lab run with state in `dataDir` left behind, compared with the host before it started, plus
 * anything still alive in the sessions of `containerPids` (the lesson containers it started). Gives a
 * killed process a moment to be reaped before reporting; [] when clean.
 */
export async function labLeftovers(
  dataDir: string,
  before: LabHostSnapshot,
  containerPids: Iterable<number> = [],
  settleMs = 3000,
): Promise<string[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const found: string[] = [];
    const lab = path.join(dataDir, 'lab');
    for (const file of ['journal.json', 'container.json', 'rootfs']) {
      if (fs.existsSync(path.join(lab, file))) found.push(`${path.join(lab, file)} exists`);
    }
    if (vethExists() && !before.veth) found.push(`network device ${LAB_VETH}`);
    for (const cg of labCgroups()) if (!before.cgroups.includes(cg)) found.push(`cgroup ${cg}`);
    for (const pid of lessonContainerPids()) if (!before.containers.includes(pid)) found.push(`lesson container process ${pid}`);
    if (isMountedUnder(dataDir)) found.push(`mounts under ${dataDir}`);
    found.push(...processesOfContainers(containerPids));
    if (!found.length || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Undoes a lab's journal after a failed test (so one failure does not leak into the next test). */
export async function resetLab(dataDir: string): Promise<void> {
  if (!fs.existsSync(path.join(dataDir, 'lab', 'journal.json'))) return;
  await runTslab(['reset'], { env: { TSLAB_DATA_DIR: dataDir }, timeoutMs: 60_000 });
}

/** Strips ANSI escape sequences (CSI, OSC, single-character escapes) and carriage returns. */
export function stripAnsi(text: string): string {
  return text
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[@-Z\\-_]/g, '')
    .replace(/\r/g, '');
}

// --- one test's lab -------------------------------------------------------------------------------

export interface LabScope {
  dataDir: string;
  before: LabHostSnapshot;
  watcher: ReturnType<typeof watchContainers>;
}

/**
 * Each test's own lab: `begin` gives it a data dir, a snapshot of the host and a watch on the lesson
 * containers it starts; `end` (in afterEach) ends stragglers, resets the lab and ends those containers.
 */
export function labScopes(dirs: ReturnType<typeof tempDirs>): { begin(label: string): LabScope; end(): Promise<void> } {
  let current: LabScope | undefined;
  return {
    begin(label) {
      const dataDir = dirs.make(label);
      current = { dataDir, before: snapshotLabHost(), watcher: watchContainers(dataDir) };
      return current;
    },
    async end() {
      await killStragglers();
      if (!current) return;
      await resetLab(current.dataDir);
      killContainerSessions(current.watcher.stop());
      current = undefined;
    },
  };
}
