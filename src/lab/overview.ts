// `tslab lessons`: every lesson with the learner's status and whether its piece is written yet.
import * as fs from 'node:fs';
import type { LessonInfo } from './catalog.js';
import type { Progress } from './progress.js';
import { sandboxPiecePath } from './solution.js';
import { style } from './render.js';

function pieceStatus(lesson: LessonInfo): string {
  const file = sandboxPiecePath(lesson);
  if (!file) return '';
  let source = '';
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    return style.warn(`  sandbox/steps/${lesson.piece!.file} is missing`);
  }
  return source.includes('new NotWrittenYet(') ? style.dim(`  piece: sandbox/steps/${lesson.piece!.file} (to write)`) : style.dim(`  piece: sandbox/steps/${lesson.piece!.file} (written)`);
}

export function lessonsOverview(catalog: LessonInfo[], progress: Progress): string {
  return catalog
    .map((lesson) => {
      const p = progress.lessons[lesson.id];
      const mark = p?.done ? style.ok('✔ done   ') : p && (p.cell > 0 || progress.current === lesson.id) ? style.warn(`▶ cell ${p.cell + 1} `.padEnd(9)) : style.dim('· new    ');
      return `${mark} ${String(lesson.number).padStart(2)}  ${lesson.title.padEnd(52)}${pieceStatus(lesson)}`;
    })
    .join('\n');
}
