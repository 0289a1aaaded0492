// kill -9 of `tslab-runtime create` at many instants, then `delete --force`: the host must be exactly as
// before every time (issue 8: "Record what a create is about to make before it makes it"). And before the
// delete: a create killed before it recorded the container leaves no container init waiting for a `start`
// that cannot come; the stage ends by itself within a couple of seconds.
//
// Each point: `create` is started in a cgroup of the test's own (holder-<id>, in the cgroup2 hierarchy), so
// every process it starts (the stage, a hook, what a hook starts) is born there and can be found; after t ms
// it gets SIGKILL, then `delete --force <id>` runs and must exit 0, and no cgroup directory of the id, no
// state directory, no process of the create, no mount under the bundle may be left. The create's length is
// measured first; the points cover it from 0 ms in steps of a 25th of its measured length (less the config's
// own sleeps), at least 10 ms: on this VM idle a create takes ~230 ms, so 10 ms steps; on a busy machine every
// phase of create stretches, and the points still fall at the same shares of its work instead of growing in
// number with the load (a CI run saw 620 ms creates and 90 points). TSLAB_KILL9_STEP_MS fixes the step (5 for
// the full sweep). Once with a hook-free config and once with a createRuntime hook that takes a while.
// TSLAB_KILL9_SPAN_PERCENT (default 110) widens or narrows the span as a percentage of the measured create.
//
// The first part of a create is Node starting and the runtime reading its arguments and config: a kill there
// finds nothing made (no state directory, no cgroup, no process left), however far into it it lands, and
// every such point does the same work. So the sweep starts in steps of TSLAB_KILL9_LEAD_STEP_MS (default 4
// steps) and goes back to the last of them that found nothing made as soon as one finds something made; from
// there every step is taken. Each lead point is checked like any other. The span ends early once three creates
// in a row had finished before their kill came (the measured length is a median: later points add nothing).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, testRun, type Bundle } from '../helpers/bundle.js';
import { findLeaks, findPrefixedCgroups, formatLeaks, type Leak } from '../helpers/leaks.js';
import { REPO_ROOT, Runtime } from '../helpers/runtime.js';

const FIXED_STEP_MS = process.env.TSLAB_KILL9_STEP_MS === undefined ? undefined : Number(process.env.TSLAB_KILL9_STEP_MS);
const FIXED_LEAD_STEP_MS = process.env.TSLAB_KILL9_LEAD_STEP_MS === undefined ? undefined : Number(process.env.TSLAB_KILL9_LEAD_STEP_MS);
const POINTS_PER_CREATE = 25;
const MIN_STEP_MS = 10;
const FINISHED_IN_A_ROW = 3;
const SPAN_PERCENT = Number(process.env.TSLAB_KILL9_SPAN_PERCENT ?? 110);
/** How long an orphaned stage may take to notice its channel closed and exit (it needs ~0.1 s to boot). */
const STAGE_GONE_MS = 2000;
const TSLAB = process.env.TSLAB_TEST_RUNTIME_BIN || path.join(REPO_ROOT, 'bin/tslab-runtime.cjs');
const UNIFIED = '/sys/fs/cgroup/unified';
const CGROUP2 = fs.existsSync(path.join(UNIFIED, 'cgroup.procs')) ? UNIFIED : '/sys/fs/cgroup';

let dir: string;
let root: string;
let prefix: string;
let counter = 0;

beforeAll(() => {
  const run = testRun();
  prefix = `${run.prefix}-kill9`;
  dir = path.join(run.base, 'kill9');
  root = path.join(dir, 'root');
  fs.mkdirSync(root, { recursive: true });
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `tslab-runtime --root <root> args...`, to completion (its output in files: a container may hold pipes). */
function tslab(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(TSLAB, ['--root', root, ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'ignore', 'pipe'] });
  return { code: r.status, stderr: r.stderr ?? '' };
}

/** The test's own cgroup for one create: everything the create starts is born in it. */
function holderFor(id: string): string {
  const holder = path.join(CGROUP2, `holder-${id}`);
  fs.mkdirSync(holder);
  return holder;
}

/** Starts `create` inside `holder`; after `killAfterMs` (if given) it gets SIGKILL. Resolves with its run time. */
async function create(bundle: Bundle, id: string, holder: string, killAfterMs?: number): Promise<{ ms: number; code: number | null; signal: string | null }> {
  const started = performance.now();
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', holder, TSLAB, '--root', root, 'create', '--bundle', bundle.dir, id], {
    stdio: 'ignore',
  });
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { ms: performance.now() - started, code, signal };
}

/** Removes the holder once the processes in it are gone (a leak found by the check is cleaned up first). */
async function removeHolder(holder: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(holder);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (i > 300) throw err;
      await sleep(10);
    }
  }
}

/**
 * What a leaking runtime left: the test's own processes (those in cgroups named after this id) are killed by
 * pid, the cgroups removed deepest first, the state directory removed. Everything touched is named after the id.
 */
async function cleanUpAfterLeak(id: string, holder: string): Promise<void> {
  const dirs = [...findPrefixedCgroups(id), ...fs.readdirSync(holder, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(holder, e.name))];
  for (const d of [holder, ...dirs]) {
    for (const pid of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const d of dirs.sort((a, b) => b.length - a.length)) {
    for (let i = 0; i < 300 && fs.existsSync(d); i++) {
      try {
        fs.rmdirSync(d);
      } catch {
        await sleep(10);
      }
    }
  }
  fs.rmSync(path.join(root, id), { recursive: true, force: true });
}

interface Point {
  id: string;
  atMs: number;
  createExit: string;
  /** Whether the killed create had made anything: a state directory entry, a cgroup of the id, a process left in the holder. */
  madeSomething: boolean;
  /** Stages still alive STAGE_GONE_MS after the create was killed before recording the container. */
  lingering: string[];
  /** Left with a journal and no state: whether `list` named it, with the way to undo it (undefined: not so left). */
  listed?: boolean;
  deleteCode: number | null;
  deleteStderr: string;
  leaks: Leak[];
}

/**
 * Everything of the id still on the host. A zombie is not counted: it is dead, and waits only for its parent
 * (here PID 1, which reaps orphans on its own schedule, about a second later) to collect its exit status.
 */
async function leftBehind(id: string, bundle: Bundle): Promise<Leak[]> {
  for (const deadline = Date.now() + 3000; ; await sleep(50)) {
    const leaks = findLeaks({ prefix: id, paths: [bundle.dir], stateRoots: [root] }).filter((l) => !(l.kind === 'process' && / \[Z\] /.test(l.what)));
    if (leaks.length === 0 || Date.now() > deadline) return leaks;
  }
}

/**
 * The container inits (stages) of the id that are still alive: processes in the holder or in a cgroup named
 * after the id that run the stage script. A zombie has ended already.
 */
function liveStages(id: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const state = /\) (\S)/.exec(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
      if (cgroup.includes(id) && cmdline.includes('/init/stage.cjs') && state !== 'Z') found.push(`pid ${pid} [${state}] ${cmdline.trim()}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/**
 * A create killed before it recorded the container (no state.json) leaves no init waiting: the stage sees
 * its channel close and ends by itself, without delete --force. The stages still alive after `withinMs`.
 */
async function stagesLingering(id: string, withinMs: number): Promise<string[]> {
  if (fs.existsSync(path.join(root, id, 'state.json'))) return []; // recorded: its init waits for start, as it should
  for (const deadline = Date.now() + withinMs; ; await sleep(20)) {
    const live = liveStages(id);
    if (live.length === 0 || Date.now() > deadline) return live;
  }
}

/** One point: kill the create at `atMs`, check its stage ends by itself, delete --force, look for anything left. */
async function killPoint(bundle: Bundle, label: string, atMs: number): Promise<Point> {
  // Ends in "-k": no id is a prefix of another ("-1-k" is not the start of "-10-k").
  const id = `${prefix}-${label}-${++counter}-k`;
  const holder = holderFor(id);
  const run = await create(bundle, id, holder, atMs);
  const madeSomething = madeAnything(id, holder);
  const lingering = await stagesLingering(id, STAGE_GONE_MS);
  const unfinished = fs.existsSync(path.join(root, id, 'journal.json')) && !fs.existsSync(path.join(root, id, 'state.json'));
  const listed = unfinished ? tslab(['list']).stderr.includes(`${id}: a create that did not finish left this behind`) : undefined;
  const del = tslab(['delete', '--force', id]);
  const leaks = await leftBehind(id, bundle);
  if (leaks.length) await cleanUpAfterLeak(id, holder);
  await removeHolder(holder);
  return { id, atMs, createExit: run.signal ?? `exit ${run.code}`, madeSomething, lingering, listed, deleteCode: del.code, deleteStderr: del.stderr.trim(), leaks };
}

/** Right after the create ended: anything of the id on the host (its state entry, a cgroup, a process in the holder). */
function madeAnything(id: string, holder: string): boolean {
  let entry = true;
  try {
    fs.lstatSync(path.join(root, id));
  } catch {
    entry = false;
  }
  const procs = fs.readFileSync(path.join(holder, 'cgroup.procs'), 'utf8').trim();
  return entry || procs !== '' || findPrefixedCgroups(id).length > 0;
}

/** How long a whole create takes here (the median of three), its container deleted again. */
async function measureCreate(bundle: Bundle, label: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const id = `${prefix}-${label}-measure-${i}`;
    const holder = holderFor(id);
    const run = await create(bundle, id, holder);
    expect(run.code, `create ${id}`).toBe(0);
    times.push(run.ms);
    expect(tslab(['delete', '--force', id]).code).toBe(0);
    await removeHolder(holder);
  }
  return times.sort((a, b) => a - b)[1]!;
}

/** The sweep's step: a share of the create's own work (`sleepsMs`: what the config makes it wait, which no load stretches). */
function stepFor(createMs: number, sleepsMs: number): number {
  return FIXED_STEP_MS ?? Math.max(MIN_STEP_MS, Math.round((createMs - sleepsMs) / POINTS_PER_CREATE));
}

async function sweep(label: string, sleepsMs: number, mutate?: (spec: Record<string, any>) => void): Promise<void> {
  const bundle = await makeBundle(new Runtime(root), path.join(dir, `bundle-${label}`), (spec) => {
    spec.process.args = ['sleep', '1000'];
    mutate?.(spec);
  });
  const createMs = await measureCreate(bundle, label);
  const span = Math.ceil((createMs * SPAN_PERCENT) / 100);
  const stepMs = stepFor(createMs, sleepsMs);
  const leadStepMs = FIXED_LEAD_STEP_MS ?? 4 * stepMs;
  const points: Point[] = [];
  const started = Date.now();
  // Lead: coarse steps while a kill finds nothing made; then every step from the last such point on.
  let from = 0;
  for (let at = 0; at <= span; at += leadStepMs) {
    const p = await killPoint(bundle, label, at);
    points.push(p);
    if (p.madeSomething) break;
    from = at + stepMs;
  }
  const lead = points.length;
  // And at the end: once FINISHED_IN_A_ROW creates in a row ended on their own before their kill, the later points
  // would each do the same (a whole create, then delete --force; the id reused below does that once more).
  let finishedInARow = 0;
  for (let at = from; at <= span && finishedInARow < FINISHED_IN_A_ROW; at += stepMs) {
    if (points.some((p) => p.atMs === at)) continue;
    const p = await killPoint(bundle, label, at);
    points.push(p);
    finishedInARow = p.createExit === 'SIGKILL' ? 0 : finishedInARow + 1;
  }
  const leaking = points.filter((p) => p.leaks.length > 0 || p.deleteCode !== 0);
  const lingering = points.filter((p) => p.lingering.length > 0);
  const killed = points.filter((p) => p.createExit === 'SIGKILL').length;
  console.log(
    `[kill -9 of create, ${label}] create takes ${createMs.toFixed(0)} ms; ${points.length} points: ${lead} every ${leadStepMs} ms from 0 ms ` +
      `while nothing was made yet, then every ${stepMs} ms from ${from} ms, to ${points.at(-1)!.atMs} of ${span} ms ` +
      `(${killed} killed mid-create, the rest had finished), ${leaking.length} left something behind, ` +
      `${lingering.length} left a stage waiting; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const waiting = lingering
    .slice(0, 10)
    .map((p) => `killed at ${p.atMs} ms (create: ${p.createExit}), still alive after ${STAGE_GONE_MS} ms without delete --force:\n  ${p.lingering.join('\n  ')}`)
    .join('\n');
  expect(lingering.length, waiting).toBe(0);
  // A create killed before it recorded the container is named by `list` (runc prints an error for it).
  const unnamed = points.filter((p) => p.listed === false).map((p) => `${p.id} (killed at ${p.atMs} ms)`);
  expect(points.some((p) => p.listed !== undefined), 'no point left a journal without state').toBe(true);
  expect(unnamed, 'left a journal and no state, and `list` did not say so').toEqual([]);
  const report = leaking
    .slice(0, 10)
    .map((p) => `at ${p.atMs} ms (create: ${p.createExit}; delete --force: exit ${p.deleteCode} ${p.deleteStderr}):\n${formatLeaks(p.leaks)}`)
    .join('\n');
  expect(leaking.length, report).toBe(0);
  // The id of a killed create can be used again, and that container is whole.
  const again = points[0]!.id;
  const holder = holderFor(`${again}-again`);
  expect((await create(bundle, again, holder)).code).toBe(0);
  expect(tslab(['delete', '--force', again]).code).toBe(0);
  await removeHolder(holder);
  expect(await leftBehind(again, bundle)).toEqual([]);
  bundle.remove();
}

describe('kill -9 of create at any instant, then delete --force', () => {
  it('leaves nothing behind: a config without hooks', { timeout: 600_000 }, async () => {
    await sweep('plain', 0);
  });

  it('leaves nothing behind: a createRuntime hook that takes 100 ms', { timeout: 600_000 }, async () => {
    const hook = path.join(dir, 'slow-hook.sh');
    fs.writeFileSync(hook, '#!/bin/sh\ncat > /dev/null\nsleep 0.1\n', { mode: 0o755 });
    await sweep('hook', 100, (spec) => {
      spec.hooks = { createRuntime: [{ path: hook, args: ['slow-hook.sh'] }] };
    });
  });
});
