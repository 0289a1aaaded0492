// The learner's progress, saved after every cell so that `tslab start` resumes where they left off.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labStateDir } from './paths.js';

export interface LessonProgress {
  done: boolean;
  /** The checks passed on the learner's own piece (not only in --reference mode): later lessons then use it. */
  passedWithMine?: boolean;
  /** Index of the next cell to offer. */
  cell: number;
  hintsShown: number;
}

export interface Progress {
  current?: string;
  lessons: Record<string, LessonProgress>;
}

function progressFile(): string {
  return path.join(labStateDir(), 'progress.json');
}

export function loadProgress(): Progress {
  try {
    const saved = JSON.parse(fs.readFileSync(progressFile(), 'utf8')) as Progress;
    return { current: saved.current, lessons: saved.lessons ?? {} };
  } catch {
    return { lessons: {} };
  }
}

export function saveProgress(progress: Progress): void {
  fs.mkdirSync(labStateDir(), { recursive: true });
  const file = progressFile();
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(progress, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

export function lessonProgress(progress: Progress, id: string): LessonProgress {
  progress.lessons[id] ??= { done: false, cell: 0, hintsShown: 0 };
  return progress.lessons[id];
}

/** Forgets one lesson's progress, or all of it. */
export function resetProgress(id?: string): void {
  if (!id) {
    fs.rmSync(progressFile(), { force: true });
    return;
  }
  const progress = loadProgress();
  delete progress.lessons[id];
  if (progress.current === id) delete progress.current;
  saveProgress(progress);
}
