// The lesson notebook as a learner meets it: `tslab start` on a real pseudo-terminal, keys typed into it,
// the screen read back (escapes stripped). A lesson is run cell by cell to its passing check, quit and
// resumed; Ctrl-C (a SIGINT to the process group, and the key at a prompt) must leave the host clean.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import type { LessonInfo } from '../../src/lab/catalog.js';
import { readProcStat } from '../../src/linux/proc.js';
import {
  LAB_VETH,
  REPO_ROOT,
  catalog,
  copyStarterSandbox,
  labLeftovers,
  lessonCells,
  lessonExists,
  processesOfContainers,
  runTslab,
  tempDirs,
  vethExists,
  labScopes,
  type LabScope,
} from './lab-env.js';
import { KEY, PtySession } from './pty-session.js';

const dirs = tempDirs('notebook-pty');

/** The lesson walked through cell by cell: short, and it passes with the reference steps. */
const FLOW = catalog.find((l) => l.id === '02-uts') ?? catalog[2];
/** For Ctrl-C: a lesson whose starting container has most of the features (veth, rootfs copy, cgroups). */
const INTERRUPTED: LessonInfo | undefined =
  [...catalog].reverse().find((l) => l.number >= 7 && l.number <= 8 && lessonExists(l)) ??
  [...catalog].reverse().find((l) => l.number >= 2 && l.number <= 8 && lessonExists(l));

const ACTIONS = ['Run', 'Skip', 'Hint', 'Show solution', 'Back', 'Quit (progress is saved)'];
const QUIT_IN_CELL = [...Array(ACTIONS.length - 1).fill(KEY.down), KEY.enter];

interface Scope extends LabScope {
  sessions: PtySession[];
}
const scopes = labScopes(dirs);
let scope: Scope | undefined;

function begin(label: string): Scope {
  scope = { ...scopes.begin(label), sessions: [] };
  return scope;
}

function start(s: Scope, args: string[]): PtySession {
  const session = PtySession.start(args, { TSLAB_DATA_DIR: s.dataDir });
  s.sessions.push(session);
  return session;
}

function progressOf(s: Scope): { current?: string; lessons: Record<string, { done: boolean; cell: number; hintsShown: number }> } {
  return JSON.parse(fs.readFileSync(path.join(s.dataDir, 'lab', 'progress.json'), 'utf8'));
}

async function expectNothingLeft(s: Scope): Promise<void> {
  const left = await labLeftovers(s.dataDir, s.before, s.watcher.stop());
  expect(left, 'what the lab left behind').toEqual([]);
}

/** Waits for the program to end and expects its exit status (showing the screen when it differs). */
async function expectExit(session: PtySession, code: number): Promise<void> {
  const result = await session.exited();
  expect(result, `the screen:\n${session.text().slice(-3000)}`).toEqual({ code, signal: null });
}

/** Waits for cell `index` (0-based) of `total` and the action prompt under it; returns where the cell starts. */
async function cellPrompt(session: PtySession, index: number, total: number): Promise<number> {
  const at = await session.waitFor(`cell ${index + 1}/${total}:`);
  await session.waitFor(ACTIONS[ACTIONS.length - 1]);
  return at;
}

afterEach(async () => {
  for (const session of scope?.sessions ?? []) await session.close();
  scope = undefined;
  await scopes.end();
});

afterAll(() => {
  dirs.removeAll();
});

describe(`the notebook on a terminal (lesson ${FLOW.id})`, () => {
  test('render, run every cell, pass the check, quit at "next lesson": exit 0, lesson done', { timeout: 180_000 }, async () => {
    expect(lessonExists(FLOW), `lessons/${FLOW.file} is not written yet`).toBe(true);
    const cells = lessonCells(FLOW);
    const s = begin('flow');
    const nb = start(s, ['start', FLOW.id, '--reference']);

    await nb.waitFor(`Lesson ${FLOW.number}: ${FLOW.title}`);
    for (let i = 0; i < cells.length; i++) {
      await cellPrompt(nb, i, cells.length);
      expect(nb.since(nb.cursor - 200)).toContain('Run');
      const promptEnd = nb.cursor;
      await nb.press(KEY.enter); // "Run" is the highlighted first choice
      if (i < cells.length - 1) {
        // The next cell appears only once this one has run: what is between is this cell's output.
        const next = await nb.waitFor(`cell ${i + 2}/${cells.length}:`, { timeoutMs: 60_000 });
        nb.cursor = next;
        const output = nb.text().slice(promptEnd, next);
        const cell = cells[i];
        if (cell.kind === 'host' || cell.kind === 'container') {
          expect(output, `output of cell ${i + 1}`).toContain('│ ');
          expect(output, `cell ${i + 1} failed`).not.toMatch(/\(exit status \d+\)/);
        }
        if (cell.kind === 'enable') expect(output, 'the kernel diff').toContain(`after (level ${FLOW.number})`);
      }
    }
    await nb.waitFor(`Lesson ${FLOW.number} complete`, { timeoutMs: 60_000, failOn: /✘/ });
    const next = catalog[FLOW.number + 1];
    await nb.waitFor(`Next: lesson ${next.number}`);
    await nb.waitFor('Quit (progress is saved)');
    await nb.press(KEY.down, KEY.enter);
    await expectExit(nb, 0);

    expect(nb.text()).not.toMatch(/✘/); // no check failed on the way
    expect(progressOf(s)).toMatchObject({ current: FLOW.id, lessons: { [FLOW.id]: { done: true, cell: 0 } } });
    await expectNothingLeft(s);
  });

  test('run one cell, quit mid-lesson; the next start resumes at the next cell', { timeout: 180_000 }, async () => {
    expect(lessonExists(FLOW), `lessons/${FLOW.file} is not written yet`).toBe(true);
    const total = lessonCells(FLOW).length;
    const s = begin('resume');

    const first = start(s, ['start', FLOW.id, '--reference']);
    await first.waitFor(`Lesson ${FLOW.number}: ${FLOW.title}`);
    await cellPrompt(first, 0, total);
    await first.press(KEY.enter);
    await cellPrompt(first, 1, total);
    await first.press(...QUIT_IN_CELL);
    await first.waitFor('Progress saved');
    await expectExit(first, 0);
    expect(progressOf(s)).toMatchObject({ current: FLOW.id, lessons: { [FLOW.id]: { done: false, cell: 1 } } });

    // `tslab lessons` shows where the learner is.
    const list = await runTslab(['lessons'], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').find((l) => l.includes(FLOW.title))).toMatch(/▶ cell 2/);

    const again = start(s, ['start', '--reference']); // no lesson named: the current one
    await again.waitFor(`Lesson ${FLOW.number}: ${FLOW.title}`);
    await again.waitFor(`(resuming at cell 2 of ${total})`);
    await cellPrompt(again, 1, total);
    expect(again.text()).not.toContain(`cell 1/${total}:`);
    await again.press(...QUIT_IN_CELL);
    await again.waitFor('Progress saved');
    await expectExit(again, 0);
    expect(progressOf(s).lessons[FLOW.id]).toMatchObject({ done: false, cell: 1 });
    await expectNothingLeft(s);
  });
});

describe(`the learner's own piece in the notebook (lesson ${FLOW.id})`, () => {
  test('a failing check, hints one at a time, the piece fixed: the check restarts the stale container and passes', { timeout: 240_000 }, async () => {
    expect(lessonExists(FLOW), `lessons/${FLOW.file} is not written yet`).toBe(true);
    const cells = lessonCells(FLOW);
    const checkAt = cells.findIndex((c) => c.kind === 'check');
    const s = begin('stale');
    const sandbox = copyStarterSandbox(dirs.make('stale-sandbox'));
    const piece = path.join(sandbox, 'steps', FLOW.piece!.file);
    const reference = fs.readFileSync(path.join(REPO_ROOT, 'src/runtime/steps', FLOW.piece!.file), 'utf8').replace("'../../linux/index.js'", "'../syscalls.js'");
    // A typical slip: the container comes up, under a name nobody asked for.
    const wrong = reference.replace(/sethostname\(name\)/, 'sethostname(`${name}x`)');
    expect(wrong, 'the reference calls sethostname(name)').not.toBe(reference);
    fs.writeFileSync(piece, wrong);

    const nb = PtySession.start(['start', FLOW.id], { TSLAB_DATA_DIR: s.dataDir, TSLAB_SANDBOX: sandbox });
    s.sessions.push(nb);
    await nb.waitFor(`Lesson ${FLOW.number}: ${FLOW.title}`);
    for (let i = 0; i < checkAt; i++) {
      await cellPrompt(nb, i, cells.length);
      await nb.press(KEY.enter);
    }
    await cellPrompt(nb, checkAt, cells.length);
    await nb.press(KEY.enter);
    await nb.waitFor('✘', { timeoutMs: 90_000 });
    const firstContainer = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'lab', 'container.json'), 'utf8')).pid as number;

    // Hint, twice: the first and then the second of the lesson's hints, numbered; progress counts them.
    const hints = FLOW.hints;
    expect(hints.length).toBeGreaterThanOrEqual(2);
    for (let n = 1; n <= 2; n++) {
      await cellPrompt(nb, checkAt, cells.length);
      await nb.press(KEY.down, KEY.down, KEY.enter);
      await nb.waitFor(`hint ${n}/${hints.length}:`);
      const shown = nb.since(nb.cursor).split('\n')[0];
      expect(hints[n - 1].startsWith(shown.trim().slice(0, 30))).toBe(true);
    }
    expect(progressOf(s).lessons[FLOW.id].hintsShown).toBe(2);

    // The learner fixes the piece and runs the check again: the container is rebuilt first, and it passes.
    fs.writeFileSync(piece, reference);
    await cellPrompt(nb, checkAt, cells.length);
    await nb.press(KEY.enter);
    await nb.waitFor(`sandbox/steps/${FLOW.piece!.file} changed since the lesson container was started`, { timeoutMs: 60_000 });
    await nb.waitFor(`after (level ${FLOW.number})`, { timeoutMs: 60_000 });
    await nb.waitFor(`Lesson ${FLOW.number} complete`, { timeoutMs: 90_000, failOn: /✘/ });
    await nb.waitFor('Quit (progress is saved)');
    await nb.press(KEY.down, KEY.enter);
    await expectExit(nb, 0);
    expect(s.watcher.pids.size, 'a second lesson container was started').toBeGreaterThanOrEqual(2);
    expect([...s.watcher.pids]).toContain(firstContainer);
    expect(progressOf(s).lessons[FLOW.id]).toMatchObject({ done: true, passedWithMine: true, hintsShown: 2 });
    await expectNothingLeft(s);
  });
});

describe.runIf(INTERRUPTED)(`Ctrl-C in a running lesson (${INTERRUPTED?.id})`, () => {
  /** Starts the lesson and waits until its lesson container runs; returns what container.json says. */
  async function startAndWaitForContainer(s: Scope, nb: PtySession): Promise<{ pid: number; startTime: number; level: number }> {
    const file = path.join(s.dataDir, 'lab', 'container.json');
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(file)) {
      if (nb.child.exitCode !== null) throw new Error(`tslab exited (${nb.child.exitCode}) before its container started:\n${nb.text()}`);
      if (Date.now() > deadline) throw new Error(`no lesson container within 60 s; the screen:\n${nb.text()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    // Written whole at once, but read it until it parses.
    for (;;) {
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  function expectContainerGone(c: { pid: number; startTime: number }): void {
    const stat = readProcStat(c.pid);
    const alive = stat !== undefined && stat.startTime === c.startTime && stat.state !== 'Z' && stat.state !== 'X';
    expect(alive, `lesson container ${c.pid} still runs`).toBe(false);
    expect(processesOfContainers([c.pid])).toEqual([]);
  }

  test('SIGINT to the process group right after the container starts: exit 130, everything undone', { timeout: 120_000 }, async () => {
    const lesson = INTERRUPTED!;
    const s = begin('sigint');
    const nb = start(s, ['start', lesson.id, '--reference']);
    const container = await startAndWaitForContainer(s, nb);
    expect(container.level).toBe(lesson.number - 1);
    if (container.level >= 6) expect(vethExists(), `${LAB_VETH} while the container runs`).toBe(true);

    nb.signalGroup('SIGINT');
    await expectExit(nb, 130);
    await nb.waitFor('Interrupted; cleaned up:', { from: 0 });
    expect(nb.since(nb.cursor)).toContain(`process ${container.pid}`);

    expect(fs.existsSync(path.join(s.dataDir, 'lab', 'journal.json'))).toBe(false);
    expect(vethExists()).toBe(s.before.veth);
    expectContainerGone(container);
    await expectNothingLeft(s);
  });

  test('the Ctrl-C key at a cell prompt quits like "Quit": exit 0, progress saved, everything undone', { timeout: 120_000 }, async () => {
    const lesson = INTERRUPTED!;
    const total = lessonCells(lesson).length;
    const s = begin('ctrl-c-key');
    const nb = start(s, ['start', lesson.id, '--reference']);
    const container = await startAndWaitForContainer(s, nb);
    await cellPrompt(nb, 0, total);

    await nb.press(KEY.ctrlC);
    const result = await nb.exited();
    // Soft: whatever the exit, the host must be clean (checked below), and both failures are worth seeing.
    expect.soft(result, `the screen:\n${nb.text().slice(-3000)}`).toEqual({ code: 0, signal: null });
    expect.soft(nb.text()).toContain('Progress saved');
    expect(fs.existsSync(path.join(s.dataDir, 'lab', 'journal.json')), 'the journal is left').toBe(false);
    expectContainerGone(container);
    await expectNothingLeft(s);
  });
});
