// A lab run's hold on the host: the machine-wide lock, what an earlier run left behind undone first, and
// every host change undone at the end: on return, on errors, on quit, on SIGINT/SIGTERM/SIGHUP and on a
// crash. `tslab reset` undoes them without a run.
import * as os from 'node:os';
import { findLesson, loadCatalog } from './catalog.js';
import { stopLessonContainer } from './lesson-container.js';
import { acquireLabLock } from './lock.js';
import { Notebook, QuitRequested, type NotebookOptions } from './notebook.js';
import { resetProgress } from './progress.js';
import { style } from './render.js';

/** Runs the lab's Notebook until it ends, cleaning up the host on quit, on Ctrl-C and on errors; returns `run`'s exit status. */
export async function withNotebook(run: (notebook: Notebook) => Promise<number>, opts: NotebookOptions): Promise<number> {
  const { write } = opts;
  const tookOver = acquireLabLock();
  if (tookOver) write(`${style.warn(tookOver)}\n`);
  const notebook = new Notebook(opts);
  const recovered = notebook.undoLeftovers();
  if (recovered) write(`${style.warn(recovered)}\n`);
  const cleanUp = (): string => {
    try {
      const undone = notebook.cleanup();
      return `cleaned up: ${undone.length ? undone.join(', ') : 'nothing to undo'}`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  const interrupted = (signal: NodeJS.Signals) => {
    process.stdout.write(`\n${signal === 'SIGINT' ? 'Interrupted' : `Got ${signal}`}; ${cleanUp()}.\n`);
    process.exit(128 + os.constants.signals[signal]);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, interrupted);
  process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
    // enquirer 2.4.1 on Node >= 24.2 throws ERR_USE_AFTER_CLOSE from its keypress handler when Ctrl-C closes a
    // prompt (enquirer issue #483): that is the learner quitting.
    if (err.code === 'ERR_USE_AFTER_CLOSE') {
      process.stdout.write(`\nProgress saved. \`tslab start\` resumes here.\n${cleanUp()}\n`);
      process.exit(0);
    }
    process.stderr.write(`tslab: ${err.stack ?? err.message}\n${cleanUp()}\n`);
    process.exit(1);
  });
  try {
    return await run(notebook);
  } catch (err) {
    if (err instanceof QuitRequested) {
      write('\nProgress saved. `tslab start` resumes here.\n');
      return 0;
    }
    throw err;
  } finally {
    write(`${cleanUp()}\n`);
  }
}

/** Undoes every host change the lab made; forgets progress (of one lesson, or all) only when asked. */
export function resetLab(lessonName: string | undefined, forgetProgress: boolean, write: (text: string) => void): void {
  const id = lessonName ? findLesson(loadCatalog(), lessonName).id : undefined;
  const tookOver = acquireLabLock();
  if (tookOver) write(`${tookOver}\n`);
  const undone = stopLessonContainer();
  write(`host changes undone: ${undone.length ? undone.join(', ') : 'none were left'}\n`);
  if (forgetProgress) {
    resetProgress(id);
    write(`${id ? `progress of ${id}` : 'all progress'} forgotten\n`);
  } else {
    write('progress kept (`tslab reset --progress` forgets it)\n');
  }
}
