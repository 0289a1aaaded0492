// What the capstone shows while the lifecycle suite runs against the learner's runtime (minutes, on a busy
// machine): one line per test file as vitest finishes it, read from vitest's default reporter, and at the
// end how the failures fall on the lesson pieces.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LessonInfo } from './catalog.js';
import { likelyPiece, pieceName, type Failure } from './checks/suspects.js';

/** vitest's line for a finished file: " ✓ |lifecycle:tslab| test/lifecycle/x.test.ts (32 tests | 2 failed) 1034ms". */
const FILE_DONE = /^\s*([✓×❯↓])\s+(?:\|[^|]*\|\s+)?(\S+\.test\.ts)\s+\((\d+) tests?((?: \| \d+ \w+)*)\)(?:\s+(\d+)ms)?/;

export class SuiteProgress {
  private done = 0;
  private readonly total: number;

  /** `files`: the files the run was given; none means the whole of test/lifecycle/. */
  constructor(root: string, files: string[]) {
    this.total = files.length || fs.readdirSync(path.join(root, 'test', 'lifecycle')).filter((f) => f.endsWith('.test.ts')).length;
  }

  /** The progress line for one line of vitest's output, or undefined when that line is not a finished file. */
  line(output: string): string | undefined {
    const m = FILE_DONE.exec(output);
    if (!m) return undefined;
    const [, mark, file, tests, extra, ms] = m;
    this.done++;
    const failed = /\| (\d+) failed/.exec(extra)?.[1];
    const skipped = /\| (\d+) skipped/.exec(extra)?.[1];
    const outcome = failed ? `${failed} of ${tests} failed` : `${tests} passed`;
    const seconds = ms ? `, ${Math.round(Number(ms) / 1000)} s` : '';
    const sign = failed || mark === '×' ? '✘' : '✔';
    return `[${this.done}/${this.total}] ${sign} ${path.basename(file)}: ${outcome}${skipped ? `, ${skipped} skipped` : ''}${seconds}`;
  }
}

/** One line per lesson piece that failing tests point to (most first), and one for those pointing nowhere. */
export function pieceSummary(failures: Failure[], catalog: LessonInfo[]): string[] {
  if (!failures.length) return ['every test passed: no lesson piece is at fault'];
  const byPiece = new Map<number, string[]>();
  const unplaced: string[] = [];
  for (const failure of failures) {
    const suspect = likelyPiece([failure], catalog);
    if (!suspect) unplaced.push(failure.test);
    else byPiece.set(suspect.lesson.number, [...(byPiece.get(suspect.lesson.number) ?? []), failure.test]);
  }
  const lines = [...byPiece.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([number, tests]) => {
      const lesson = catalog.find((l) => l.number === number)!;
      return `${pieceName(lesson)}: ${tests.length} failing test${tests.length === 1 ? '' : 's'} point${tests.length === 1 ? 's' : ''} to it (e.g. ${tests[0]})`;
    });
  if (unplaced.length) lines.push(`${unplaced.length} failing test${unplaced.length === 1 ? '' : 's'} point${unplaced.length === 1 ? 's' : ''} to no piece in particular (e.g. ${unplaced[0]})`);
  return ['by lesson piece:', ...lines.map((l) => `  ${l}`)];
}
