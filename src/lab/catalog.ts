// The lesson catalog: lessons/lessons.json holds the order, the piece each lesson asks for and its hints
// (one place, as rustlings does); each lesson's text is its own Markdown file.
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  return raw.lessons.map((lesson, number) => ({ ...lesson, number, hints: lesson.hints ?? [] }));
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
