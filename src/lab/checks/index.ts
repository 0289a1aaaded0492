// Each lesson's check, found by a naming convention rather than a table: the lesson with id "02-uts" has its
// check in src/lab/checks/l02-uts.ts, which exports `check`. A new lesson needs no entry here.
// esbuild bundles every `l*.ts` of this directory for the template import below (a glob import), so only
// check modules may have names starting with "l".
import type { LessonInfo } from '../catalog.js';
import type { LessonCheck } from './types.js';

/** The file name of a lesson's check module in src/lab/checks/. */
export function checkFile(lesson: Pick<LessonInfo, 'id'>): string {
  return `l${lesson.id}.ts`;
}

/** The check of a lesson, or undefined when its module is missing or exports no `check` function. */
export async function checkFor(lesson: Pick<LessonInfo, 'id'>): Promise<LessonCheck | undefined> {
  // The id has a strict shape (catalog.ts catalogProblems): it cannot name a file outside this directory.
  if (!/^\d{2}-[a-z0-9-]+$/.test(lesson.id)) return undefined;
  let module: { check?: unknown };
  try {
    // The .ts name is what esbuild's glob and vitest both resolve; tsc does not look inside a template import.
    module = (await import(`./l${lesson.id}.ts`)) as { check?: unknown };
  } catch (err) {
    // Missing: esbuild says "Module not found in bundle: ./l<id>.ts", vite names the file too. Anything else is
    // a broken check module, and that is for the caller to report.
    if (err instanceof Error && err.message.includes(checkFile(lesson))) return undefined;
    throw err;
  }
  return typeof module.check === 'function' ? (module.check as LessonCheck) : undefined;
}
