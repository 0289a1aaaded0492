// `tslab start`: the lesson notebook. Prose is rendered, each runnable cell is offered (run / skip / hint /
// solution / back / quit) and its output shown under it; progress is saved after every cell. With `--yes` it
// runs a lesson's cells headless, for CI and for instructors checking a machine.
import enquirer from 'enquirer';
import { findLesson, loadCatalog, loadLesson, type Lesson, type LessonInfo } from './catalog.js';
import type { Cell } from './markdown.js';
import { lessonProgress, loadProgress, saveProgress, type Progress } from './progress.js';
import { outputLine, renderCellBody, renderCellHeader, renderCheckResults, renderDiff, renderProse, style } from './render.js';
import { LabSession, type StepSource } from './session.js';
import { nsenterLine } from './container.js';
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
    return this.session.close();
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
    const cells = lesson.doc.segments.flatMap((s) => (s.type === 'cell' ? [s.cell] : []));
    const saved = lessonProgress(this.progress, lesson.id);
    let index = this.opts.yes || saved.done ? 0 : Math.min(saved.cell, cells.length - 1);
    this.opts.write(`\n${style.title(`Lesson ${lesson.number}: ${lesson.title}`)}\n`);
    if (index > 0) this.opts.write(style.dim(`(resuming at cell ${index + 1} of ${cells.length})\n`));
    const lastEnable = cells.slice(0, index).reverse().find((c) => c.kind === 'enable');
    const warning = await this.session.prepareLesson(lesson, lastEnable !== undefined, lastEnable?.args.includes('chroot') ? 'chroot' : undefined);
    if (warning) this.opts.write(`${style.warn(warning)}\n`);
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

  private showHint(lesson: LessonInfo): void {
    const p = lessonProgress(this.progress, lesson.id);
    if (!lesson.hints.length) {
      this.opts.write(style.dim('No hints for this lesson.\n'));
      return;
    }
    const hint = lesson.hints[Math.min(p.hintsShown, lesson.hints.length - 1)];
    p.hintsShown = Math.min(p.hintsShown + 1, lesson.hints.length);
    saveProgress(this.progress);
    this.opts.write(`${style.warn('hint:')} ${hint}\n`);
  }

  /** Runs one cell and prints its outcome; returns whether it did what it should. */
  async runCell(lesson: LessonInfo, cell: Cell): Promise<boolean> {
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
          this.opts.write(`${style.error(outcome.error)}\n`);
          return false;
        }
        this.opts.write(`${renderDiff(outcome.diff, outcome.beforeTitle, `after (level ${lesson.number})`)}\n`);
        this.opts.write(style.dim(`  Inspect it from another terminal: tslab shell   (or: ${nsenterLine(outcome.container)})\n`));
        return true;
      }
      case 'check': {
        const results = await this.session.check(lesson);
        this.opts.write(`${renderCheckResults(results)}\n`);
        return results.length > 0 && results.every((r) => r.ok);
      }
    }
  }
}

export { QuitRequested };
