// `tslab start`: the lesson notebook. Prose is rendered, each runnable cell is offered (run / skip / hint /
// solution / back / quit) and its output shown under it; progress is saved after every cell. With `--yes` it
// runs a lesson's cells headless, for CI and for instructors checking a machine.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import enquirer from 'enquirer';
import { findLesson, loadCatalog, loadLesson, type Lesson, type LessonInfo } from './catalog.js';
import * as journal from './journal.js';
import { cellsOf, type Cell } from './markdown.js';
import { sandboxDir } from './paths.js';
import { lessonProgress, loadProgress, saveProgress, type Progress } from './progress.js';
import { outputLine, renderCellBody, renderCellHeader, renderCheckResults, renderDiff, renderProse, style } from './render.js';
import { LabSession, type StepSource } from './session.js';
import { currentContainer, nsenterLine } from './lesson-container.js';
import { solutionMarkdown } from './solution.js';

export interface NotebookOptions {
  lesson?: string;
  yes: boolean;
  source: StepSource;
  write: (text: string) => void;
}

type Action = 'run' | 'skip' | 'hint' | 'solution' | 'back' | 'quit';

const ACTIONS: Array<{ name: Action; message: string }> = [
  { name: 'run', message: 'Run' },
  { name: 'skip', message: 'Skip' },
  { name: 'hint', message: 'Hint' },
  { name: 'solution', message: 'Show solution' },
  { name: 'back', message: 'Back' },
  { name: 'quit', message: 'Quit (progress is saved)' },
];

class QuitRequested extends Error {}

/** The sandbox files a lesson container was built from (relative to the sandbox) and a hash of each. */
type Fingerprint = Map<string, string>;

function fingerprint(mineSteps: string[]): Fingerprint {
  const files = [...mineSteps.map((f) => path.join('steps', f)), 'syscalls.ts', 'lab-support.ts'];
  return new Map(
    files.map((file) => {
      let content: Buffer | string;
      try {
        content = fs.readFileSync(path.join(sandboxDir(), file));
      } catch {
        content = 'missing';
      }
      return [file, createHash('sha256').update(content).digest('hex')];
    }),
  );
}

/** Files whose content differs from the fingerprint. */
function changedSince(before: Fingerprint, mineSteps: string[]): string[] {
  const now = fingerprint(mineSteps);
  return [...before].filter(([file, hash]) => now.get(file) !== hash).map(([file]) => `sandbox/${file}`);
}

async function ask(message: string, choices: Array<{ name: string; message: string }>): Promise<string> {
  try {
    const answer = (await enquirer.prompt({ type: 'select', name: 'choice', message, choices })) as { choice: string };
    return answer.choice;
  } catch {
    // Ctrl-C or Escape in a prompt.
    throw new QuitRequested();
  }
}

export class Notebook {
  private readonly session: LabSession;
  private readonly progress: Progress;
  private readonly catalog: LessonInfo[];
  /** The cell that started the running lesson container with this lesson's feature, and the sandbox it was built from. */
  private enabled: { lesson: string; cell: Cell; built: Fingerprint } | undefined;

  constructor(private readonly opts: NotebookOptions) {
    this.catalog = loadCatalog();
    this.progress = loadProgress();
    this.session = new LabSession(this.catalog, opts.source, this.progress);
  }

  /** Starts the container a lesson begins from; returns a warning if it could not. */
  prepare(lesson: LessonInfo): Promise<string | undefined> {
    return this.session.prepareLesson(lesson, false);
  }

  /** Ends any running cell and undoes the lab's host changes (Ctrl-C, quit, end). */
  cleanup(): string[] {
    this.enabled = undefined;
    return this.session.close();
  }

  /**
   * Undoes what an earlier session left on the host (killed, crashed, or its clean-up failed): its lesson
   * container and every other journalled change. Returns a sentence saying what was found and done, or
   * undefined when nothing was left. Called with the lab lock held, so no live session owns these.
   */
  undoLeftovers(): string | undefined {
    const container = currentContainer();
    const left = journal.pending();
    if (!container && !left.length) return undefined;
    const found = container
      ? `the lesson container of ${container.lesson} (level ${container.level}, host pid ${container.pid}), still running`
      : `${left.length} recorded host change${left.length === 1 ? '' : 's'}`;
    let done: string;
    try {
      const undone = this.cleanup();
      done = `undone: ${undone.length ? undone.join(', ') : 'nothing was left'}`;
    } catch (err) {
      done = err instanceof Error ? err.message : String(err);
    }
    return `An earlier lab session did not clean up (it was killed, it crashed, or its clean-up failed) and left ${found}; ${done}. This session starts its own container; your progress is kept.`;
  }

  private firstLesson(): LessonInfo {
    if (this.opts.lesson) return findLesson(this.catalog, this.opts.lesson);
    const current = this.progress.current ? this.catalog.find((l) => l.id === this.progress.current) : undefined;
    return current ?? this.catalog.find((l) => !this.progress.lessons[l.id]?.done) ?? this.catalog[0];
  }

  /** Runs lessons from the chosen one; returns the exit status. */
  async run(): Promise<number> {
    let info: LessonInfo | undefined = this.firstLesson();
    while (info) {
      const passed = await this.runLesson(loadLesson(info));
      if (this.opts.yes) {
        // Headless: one named lesson, or every lesson in order until one fails.
        if (!passed) return 1;
        if (this.opts.lesson) return 0;
        info = this.catalog[info.number + 1];
        continue;
      }
      const next: LessonInfo | undefined = this.catalog[info.number + 1];
      if (!next) {
        this.opts.write(style.ok('\nThat was the last lesson: your runtime is complete. `tslab run --mine busybox CMD` runs containers with it.\n'));
        return 0;
      }
      const choice = await ask(passed ? `Next: lesson ${next.number} — ${next.title}` : 'The checks did not pass yet.', [
        ...(passed ? [{ name: 'next', message: `Continue to lesson ${next.number}` }] : [{ name: 'again', message: 'Stay on this lesson' }]),
        { name: 'quit', message: 'Quit (progress is saved)' },
      ]);
      if (choice === 'quit') return 0;
      if (choice === 'next') info = next;
    }
    return 0;
  }

  /** The lesson's checks passed: it is done, and with the learner's code its piece is used from now on. */
  recordPass(lesson: LessonInfo): void {
    const p = lessonProgress(this.progress, lesson.id);
    p.done = true;
    p.cell = 0;
    if (this.opts.source === 'mine') p.passedWithMine = true;
    saveProgress(this.progress);
  }

  private saveAt(lesson: LessonInfo, cell: number): void {
    const p = lessonProgress(this.progress, lesson.id);
    p.cell = cell;
    this.progress.current = lesson.id;
    saveProgress(this.progress);
  }

  /** Returns whether the lesson's checks passed. */
  private async runLesson(lesson: Lesson): Promise<boolean> {
    const cells = cellsOf(lesson.doc);
    const saved = lessonProgress(this.progress, lesson.id);
    let index = this.opts.yes || saved.done ? 0 : Math.min(saved.cell, cells.length - 1);
    this.opts.write(`\n${style.title(`Lesson ${lesson.number}: ${lesson.title}`)}\n`);
    if (index > 0) this.opts.write(style.dim(`(resuming at cell ${index + 1} of ${cells.length})\n`));
    const lastEnable = cells.slice(0, index).reverse().find((c) => c.kind === 'enable');
    const warning = await this.session.prepareLesson(lesson, lastEnable !== undefined, lastEnable?.args.includes('chroot') ? 'chroot' : undefined);
    if (warning) this.opts.write(`${style.warn(warning)}\n`);
    this.enabled = lastEnable && this.session.container ? { lesson: lesson.id, cell: lastEnable, built: fingerprint(this.session.container.mineSteps) } : undefined;
    let passed = false;
    let shownUpTo = -1;
    while (index < cells.length) {
      if (index > shownUpTo) {
        this.showProseBefore(lesson, index);
        shownUpTo = index;
      }
      const cell = cells[index];
      this.opts.write(`${renderCellHeader(cell, index, cells.length)}\n${renderCellBody(cell)}\n`);
      const action = this.opts.yes ? 'run' : await ask(`cell ${index + 1}/${cells.length}`, ACTIONS);
      if (action === 'quit') throw new QuitRequested();
      if (action === 'hint') {
        this.showHint(lesson);
        continue;
      }
      if (action === 'solution') {
        this.opts.write(renderProse(solutionMarkdown(lesson)));
        continue;
      }
      if (action === 'back') {
        index = Math.max(0, index - 1);
        shownUpTo = index;
        continue;
      }
      if (action === 'run') {
        const ok = await this.runCell(lesson, cell);
        if (cell.kind === 'check') passed = ok;
        if (!ok && this.opts.yes && (cell.kind === 'enable' || cell.kind === 'check')) return false;
        if (!ok && cell.kind !== 'host' && cell.kind !== 'container') continue;
      }
      index++;
      this.saveAt(lesson, index);
    }
    if (passed) this.recordPass(lesson);
    this.opts.write(passed ? style.ok(`\n✔ Lesson ${lesson.number} complete.\n`) : style.warn(`\nLesson ${lesson.number} is not complete: its checks have not passed.\n`));
    return passed;
  }

  private showProseBefore(lesson: Lesson, cellIndex: number): void {
    let seen = -1;
    let start = 0;
    const segments = lesson.doc.segments;
    for (let i = 0; i < segments.length; i++) {
      if (segments[i].type !== 'cell') continue;
      seen++;
      if (seen === cellIndex) {
        const text = segments.slice(start, i).flatMap((s) => (s.type === 'prose' ? [s.text] : []));
        if (text.length) this.opts.write(renderProse(text.join('\n\n')));
        return;
      }
      start = i + 1;
    }
  }

  /** Reveals the lesson's next hint (progress remembers how many were shown); once all are out, lists them again. */
  private showHint(lesson: LessonInfo): void {
    const p = lessonProgress(this.progress, lesson.id);
    const total = lesson.hints.length;
    if (!total) {
      this.opts.write(style.dim('No hints for this lesson.\n'));
      return;
    }
    if (p.hintsShown >= total) {
      lesson.hints.forEach((hint, i) => this.opts.write(`${style.warn(`hint ${i + 1}/${total}:`)} ${hint}\n`));
      this.opts.write(style.dim('  (no more hints: "Show solution" shows the reference piece)\n'));
      return;
    }
    p.hintsShown = Math.max(0, p.hintsShown) + 1;
    saveProgress(this.progress);
    this.opts.write(`${style.warn(`hint ${p.hintsShown}/${total}:`)} ${lesson.hints[p.hintsShown - 1]}\n`);
    if (p.hintsShown < total) this.opts.write(style.dim('  ("Hint" again reveals the next one)\n'));
  }

  /**
   * Before a cell that uses the lesson container: if the learner changed a piece it was built from (they fixed
   * it after a failing check), say so and restart it with the current sandbox, as the enable cell does.
   * Returns false when that restart failed.
   */
  private async restartIfStale(lesson: LessonInfo): Promise<boolean> {
    const enabled = this.enabled;
    const container = this.session.container;
    if (!enabled || enabled.lesson !== lesson.id || !container || !container.mineSteps.length) return true;
    const changed = changedSince(enabled.built, container.mineSteps);
    if (!changed.length) return true;
    this.opts.write(`${style.warn(`${changed.join(', ')} changed since the lesson container was started: restarting it with your current code (the "switch the feature on" cell again).`)}\n`);
    return this.runCell(lesson, enabled.cell);
  }

  /** Runs one cell and prints its outcome; returns whether it did what it should. */
  async runCell(lesson: LessonInfo, cell: Cell): Promise<boolean> {
    if ((cell.kind === 'container' || cell.kind === 'check') && !(await this.restartIfStale(lesson))) return false;
    switch (cell.kind) {
      case 'host':
      case 'container': {
        const result = await this.session.runShell(lesson, cell, (line, stream) => this.opts.write(`${outputLine(line, stream)}\n`));
        if (result.code !== 0) this.opts.write(style.dim(`  (exit status ${result.code})\n`));
        return result.code === 0;
      }
      case 'enable': {
        const outcome = await this.session.enable(lesson, cell);
        if (!outcome.ok) {
          this.enabled = undefined;
          this.opts.write(`${style.error(outcome.error)}\n`);
          return false;
        }
        this.enabled = { lesson: lesson.id, cell, built: fingerprint(outcome.container.mineSteps) };
        this.opts.write(`${renderDiff(outcome.diff, outcome.beforeTitle, `after (level ${lesson.number})`)}\n`);
        this.opts.write(style.dim(`  Inspect it from another terminal: tslab shell   (or: ${nsenterLine(outcome.container)})\n`));
        return true;
      }
      case 'check': {
        const results = await this.session.check(lesson, (line) => this.opts.write(`${outputLine(line, 'stdout')}\n`));
        this.opts.write(`${renderCheckResults(results)}\n`);
        return results.length > 0 && results.every((r) => r.ok);
      }
    }
  }
}

export { QuitRequested };
