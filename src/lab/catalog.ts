// The lesson catalog: lessons/lessons.json is the one source of the lesson contract (as rustlings' info
// file is): the order (a lesson's number is its position), each lesson's piece (file and functions), the
// kernel feature it switches on in the lesson container, and its hints. Each lesson's text is its own
// Markdown file, and its check is src/lab/checks/l<id>.ts (see checks/index.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FEATURES, type Feature } from './container/plan.js';
import { type LessonDocument, LessonFormatError, parseLesson } from './markdown.js';
import { lessonsDir } from './paths.js';

export interface Piece {
  /** File name under src/runtime/steps/ (reference) and sandbox/steps/ (the learner's). */
  file: string;
  functions: string[];
}

export interface LessonInfo {
  id: string;
  title: string;
  /** Position in the course; also the number of kernel features the lesson container has. */
  number: number;
  file: string;
  piece?: Piece;
  /** The kernel feature this lesson switches on in the lesson container; lessons without one have no container. */
  feature?: Feature;
  hints: string[];
}

export interface Lesson extends LessonInfo {
  doc: LessonDocument;
}

interface CatalogFile {
  lessons: Array<Omit<LessonInfo, 'number'>>;
}

export class UnknownLessonError extends Error {}

export function loadCatalog(dir = lessonsDir()): LessonInfo[] {
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'lessons.json'), 'utf8')) as CatalogFile;
  const catalog = raw.lessons.map((lesson, number) => ({ ...lesson, number, hints: lesson.hints ?? [] }));
  const problems = catalogProblems(catalog);
  if (problems.length) throw new LessonFormatError(`${path.join(dir, 'lessons.json')}: ${problems.join('; ')}`);
  return catalog;
}

/**
 * What is wrong with a catalog, one sentence each. Ids, piece files and function names become file names and
 * module paths (lessons/<id>.md, src/lab/checks/l<id>.ts, sandbox/steps/<file>), so they are held to a strict
 * shape; features must follow the order in which the launcher switches them on.
 */
export function catalogProblems(catalog: LessonInfo[]): string[] {
  const problems: string[] = [];
  const seenFiles = new Set<string>();
  let lastFeature = -1;
  for (const lesson of catalog) {
    const where = `lesson ${lesson.number} (${JSON.stringify(lesson.id)})`;
    const prefix = String(lesson.number).padStart(2, '0');
    if (typeof lesson.id !== 'string' || !new RegExp(`^${prefix}-[a-z0-9]+(-[a-z0-9]+)*$`).test(lesson.id)) {
      problems.push(`${where}: the id must be "${prefix}-" (its position) and a name of lowercase letters, digits and dashes`);
    }
    if (lesson.file !== `${lesson.id}.md`) problems.push(`${where}: "file" must be "${lesson.id}.md"`);
    if (lesson.piece) {
      if (!/^[a-z0-9]+(-[a-z0-9]+)*\.ts$/.test(lesson.piece.file)) problems.push(`${where}: the piece file must be a name like "exec-fifo.ts"`);
      if (seenFiles.has(lesson.piece.file)) problems.push(`${where}: the piece file ${lesson.piece.file} belongs to an earlier lesson`);
      seenFiles.add(lesson.piece.file);
      const functions = lesson.piece.functions;
      if (!Array.isArray(functions) || functions.length === 0 || !functions.every((f) => /^[a-z][A-Za-z0-9]*$/.test(f))) {
        problems.push(`${where}: the piece needs "functions", one or more camelCase names`);
      }
    }
    if (lesson.feature !== undefined) {
      const index = FEATURES.indexOf(lesson.feature);
      if (index < 0) problems.push(`${where}: unknown feature "${lesson.feature}" (the launcher knows ${FEATURES.join(', ')})`);
      else if (index <= lastFeature) problems.push(`${where}: feature "${lesson.feature}" must come after "${FEATURES[lastFeature]}" and only once (${FEATURES.join(', ')})`);
      lastFeature = Math.max(lastFeature, index);
    }
  }
  return problems;
}

/** The features of the lesson container of `level` (a lesson's number): those of lessons 0..level. */
export function featuresThrough(catalog: LessonInfo[], level: number): Feature[] {
  return catalog.flatMap((l) => (l.feature && l.number <= level ? [l.feature] : []));
}

export function loadLesson(info: LessonInfo, dir = lessonsDir()): Lesson {
  const file = path.join(dir, info.file);
  const doc = parseLesson(fs.readFileSync(file, 'utf8'), info.file);
  if (doc.meta.id !== info.id) throw new LessonFormatError(`${info.file}: front matter id "${doc.meta.id}" should be "${info.id}"`);
  return { ...info, doc };
}

/** Finds a lesson by number ("2"), id ("02-uts") or the id's name part ("uts"). */
export function findLesson(catalog: LessonInfo[], name: string): LessonInfo {
  const found = catalog.find((l) => String(l.number) === String(Number(name)) && /^\d+$/.test(name)) ??
    catalog.find((l) => l.id === name || l.id.replace(/^\d+-/, '') === name);
  if (!found) {
    const list = catalog.map((l) => `${l.number} (${l.id})`).join(', ');
    throw new UnknownLessonError(`no lesson "${name}"; the lessons are ${list}`);
  }
  return found;
}
