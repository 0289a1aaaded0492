// `tslab check LESSON`: a lesson's finished state checked headless, as CI and instructors run it.
import { findLesson, loadCatalog, loadLesson } from './catalog.js';
import { withNotebook } from './lifecycle.js';
import { cellsOf } from './markdown.js';
import type { StepSource } from './session.js';

/** Runs the lesson's last "enable" cell, then its check, recording a pass; returns 0 when both pass, else 1. */
export async function checkLesson(lessonName: string, source: StepSource, write: (text: string) => void): Promise<number> {
  const lesson = loadLesson(findLesson(loadCatalog(), lessonName));
  return withNotebook(
    async (notebook) => {
      const cells = cellsOf(lesson.doc);
      // The checks look at the lesson's finished state: its last "enable" cell, then the check itself.
      const enable = cells.filter((c) => c.kind === 'enable').pop();
      if (enable && !(await notebook.runCell(lesson, enable))) return 1;
      const check = cells.find((c) => c.kind === 'check') ?? { kind: 'check' as const, args: [], code: '' };
      if (!(await notebook.runCell(lesson, check))) return 1;
      notebook.recordPass(lesson);
      return 0;
    },
    { source, lesson: lessonName, yes: true, write },
  );
}
