// Every lesson's mutants, in course order: the module test/lab/mutants/l<id>.ts of each lessons.json entry,
// found by that name as the lesson's check is (a new lesson adds a file here, never a line).
import { loadCatalog } from '../../../src/lab/catalog.js';
import type { LessonMutants } from './mutant.js';

async function mutantsOf(id: string): Promise<LessonMutants> {
  const module = (await import(`./l${id}.ts`)) as Record<string, unknown>;
  const group = Object.values(module).find((value) => typeof value === 'object' && value !== null && (value as LessonMutants).lesson === id);
  if (!group) throw new Error(`test/lab/mutants/l${id}.ts exports no mutants for lesson ${id} (an object with lesson: '${id}')`);
  return group as LessonMutants;
}

export const MUTANTS: LessonMutants[] = await Promise.all(loadCatalog().map((lesson) => mutantsOf(lesson.id)));
