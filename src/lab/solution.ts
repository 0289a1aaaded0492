// The reference piece of a lesson, as `tslab solution` and the notebook's "show solution" print it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LessonInfo } from './catalog.js';
import { projectRoot, sandboxDir } from './paths.js';

function referencePiecePath(lesson: LessonInfo): string | undefined {
  return lesson.piece ? path.join(projectRoot(), 'src', 'runtime', 'steps', lesson.piece.file) : undefined;
}

export function sandboxPiecePath(lesson: LessonInfo): string | undefined {
  return lesson.piece ? path.join(sandboxDir(), 'steps', lesson.piece.file) : undefined;
}

/** Markdown showing the reference piece, or saying the lesson has none. */
export function solutionMarkdown(lesson: LessonInfo): string {
  const file = referencePiecePath(lesson);
  if (!file) return `Lesson ${lesson.number} has no piece to write: it runs what you built in the earlier lessons.`;
  // The reference imports the syscall layer from inside src/; in the sandbox the same layer is ../syscalls.js.
  const source = fs.readFileSync(file, 'utf8').replace(/(['"])\.\.\/\.\.\/linux\/index\.js\1/g, "'../syscalls.js'");
  return `The reference for **sandbox/steps/${lesson.piece!.file}** (from src/runtime/steps/${lesson.piece!.file}):\n\n\`\`\`ts\n${source}\`\`\`\n`;
}
