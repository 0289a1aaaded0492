// The lesson catalog (lessons/lessons.json + one Markdown file per lesson) and what each lesson promises
// the lab: its file parses, its id matches, its cells are laid out as the notebook expects, it has hints
// and checks, and its piece exists both as reference (src/runtime/steps/) and as starter (sandbox/steps/)
// with the same exported functions. Written over lessons.json, so every lesson is covered as it lands.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { UnknownLessonError, catalogProblems, findLesson, loadCatalog, loadLesson, type LessonInfo } from '../../src/lab/catalog.js';
import { checkFile, checkFor } from '../../src/lab/checks/index.js';
import { LessonFormatError, cellsOf } from '../../src/lab/markdown.js';
import { REPO_ROOT } from '../helpers/runtime.js';
import { referenceProblems, starterProblems } from './lesson-contract.js';

const LESSONS_DIR = path.join(REPO_ROOT, 'lessons');
const REFERENCE_STEPS = path.join(REPO_ROOT, 'src/runtime/steps');
const SANDBOX_STEPS = path.join(REPO_ROOT, 'sandbox/steps');

const catalog = loadCatalog(LESSONS_DIR);
const scratch: string[] = [];

afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

/** `export function NAME` names of a source file, sorted. */
function exportedFunctions(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^export\s+(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]!).sort();
}

describe('lessons.json', () => {
  test('lists lessons 0..N with unique ids "NN-name" numbered by position', () => {
    expect(catalog.length).toBeGreaterThan(0);
    expect(new Set(catalog.map((l) => l.id)).size).toBe(catalog.length);
    catalog.forEach((l, i) => {
      expect(l.number).toBe(i);
      expect(l.id).toMatch(new RegExp(`^${String(i).padStart(2, '0')}-[a-z0-9-]+$`));
      expect(l.title.trim()).not.toBe('');
      expect(l.file).toBe(`${l.id}.md`);
    });
  });

  test('has no problem catalogProblems knows (id shapes, distinct piece files, features in the launcher\'s order)', () => {
    expect(catalogProblems(catalog)).toEqual([]);
  });

  test('findLesson takes a number, an id or the id without its number', () => {
    const two = catalog[2];
    expect(findLesson(catalog, '2')).toBe(two);
    expect(findLesson(catalog, '02')).toBe(two);
    expect(findLesson(catalog, two.id)).toBe(two);
    expect(findLesson(catalog, two.id.replace(/^\d+-/, ''))).toBe(two);
    expect(findLesson(catalog, '0')).toBe(catalog[0]);
  });

  test('findLesson refuses an unknown lesson and lists the real ones', () => {
    expect(() => findLesson(catalog, '99')).toThrow(UnknownLessonError);
    expect(() => findLesson(catalog, 'nope')).toThrow(new RegExp(`no lesson "nope".*${catalog[0].id}`));
    expect(() => findLesson(catalog, '-1')).toThrow(UnknownLessonError);
    expect(() => findLesson(catalog, '1.0')).toThrow(UnknownLessonError);
  });

  test('loadLesson refuses a file whose front matter id is not the catalog id', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-catalog-'));
    scratch.push(dir);
    fs.writeFileSync(path.join(dir, 'lessons.json'), JSON.stringify({ lessons: [{ id: '00-a', title: 'A', file: '00-a.md' }] }));
    fs.writeFileSync(path.join(dir, '00-a.md'), '---\nid: 00-b\n---\ntext\n');
    const [info] = loadCatalog(dir);
    expect(info.hints).toEqual([]); // hints default to none
    expect(() => loadLesson(info, dir)).toThrow(LessonFormatError);
    expect(() => loadLesson(info, dir)).toThrow(/front matter id "00-b" should be "00-a"/);
  });
});

describe.each(catalog.map((l) => [l.id, l] as [string, LessonInfo]))('lesson %s', (_id, info) => {
  const file = path.join(LESSONS_DIR, info.file);

  test('its Markdown file exists and its front matter id matches', () => {
    expect(fs.existsSync(file), `${path.relative(REPO_ROOT, file)} is missing`).toBe(true);
    const lesson = loadLesson(info, LESSONS_DIR);
    expect(lesson.doc.meta.id).toBe(info.id);
  });

  test('it ends with exactly one `tslab check` cell, its last cell', () => {
    const cells = cellsOf(loadLesson(info, LESSONS_DIR).doc);
    expect(cells.filter((c) => c.kind === 'check')).toHaveLength(1);
    expect(cells[cells.length - 1].kind).toBe('check');
  });

  // Tests that do not apply to a lesson are not defined for it (rather than shown as skipped).
  if (info.feature) test(`it has a \`tslab enable\` cell (its feature "${info.feature}" is switched on in the lesson container)`, () => {
    const cells = cellsOf(loadLesson(info, LESSONS_DIR).doc);
    expect(cells.filter((c) => c.kind === 'enable').length).toBeGreaterThanOrEqual(1);
  });

  test('it has at least two hints in lessons.json', () => {
    expect(info.hints.length).toBeGreaterThanOrEqual(2);
    for (const hint of info.hints) expect(hint.trim()).not.toBe('');
  });

  test(`it has a check module, src/lab/checks/${checkFile(info)}, exporting \`check\``, async () => {
    expect(typeof (await checkFor(info)), `src/lab/checks/${checkFile(info)} is missing or exports no check function`).toBe('function');
  });

  if (info.piece) test('its piece exists in src/runtime/steps/ and sandbox/steps/, each exporting the functions lessons.json lists', () => {
    const piece = info.piece!;
    const reference = path.join(REFERENCE_STEPS, piece.file);
    const starter = path.join(SANDBOX_STEPS, piece.file);
    expect(fs.existsSync(reference), `src/runtime/steps/${piece.file} is missing`).toBe(true);
    expect(fs.existsSync(starter), `sandbox/steps/${piece.file} is missing`).toBe(true);
    expect(referenceProblems(info, fs.readFileSync(reference, 'utf8'))).toEqual([]);
    expect(exportedFunctions(starter)).toEqual(exportedFunctions(reference));
  });

  if (info.piece) test('its starter has the lesson header, and each function a TODO line and throws NotWrittenYet naming this lesson, itself and its file', () => {
    expect(starterProblems(info, fs.readFileSync(path.join(SANDBOX_STEPS, info.piece!.file), 'utf8'))).toEqual([]);
  });
});
