// lessons/lessons.json is the one source of the lesson contract. What is derived from it (the lesson
// containers' features, the check of each lesson, the level a check requires, the steps contract, the
// capstone's suspects) is shown to follow a throwaway extra lesson built in memory or in a temp dir; what is
// not (the README tables, starter and reference headers) is compared with it, naming the file and line to fix.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, test } from 'vitest';
import { catalogProblems, featuresThrough, loadCatalog, type LessonInfo } from '../../src/lab/catalog.js';
import { requireContainer } from '../../src/lab/checks/common.js';
import { checkFile } from '../../src/lab/checks/index.js';
import { likelyPiece } from '../../src/lab/checks/suspects.js';
import type { CheckContext } from '../../src/lab/checks/types.js';
import type { LessonContainer } from '../../src/lab/lesson-container.js';
import { REPO_ROOT } from '../helpers/runtime.js';
import { mainTableProblems, pieceContract, referenceProblems, sandboxTableProblems, starterProblems } from './lesson-contract.js';

const catalog = loadCatalog(path.join(REPO_ROOT, 'lessons'));
const CHECKS_DIR = path.join(REPO_ROOT, 'src/lab/checks');
const scratch: string[] = [];

afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-contract-'));
  scratch.push(dir);
  return dir;
}

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** A lesson after the last one, with a piece of two functions, as a new lesson's one lessons.json entry would give. */
function extraLesson(): LessonInfo {
  const number = catalog.length;
  const id = `${String(number).padStart(2, '0')}-extra`;
  return { id, number, title: 'An extra lesson', file: `${id}.md`, piece: { file: 'extra-step.ts', functions: ['firstStep', 'secondStep'] }, hints: ['a', 'b'] };
}

const extended = [...catalog, extraLesson()];
const extra = extended.at(-1)!;

/** A starter for `lesson` as the conventions ask. */
function starterText(lesson: LessonInfo, lessonNumberInCalls = lesson.number): string {
  const piece = lesson.piece!;
  const functions = piece.functions.map(
    (fn) =>
      `export function ${fn}(): void {\n  // TODO(lesson ${lesson.number}): write it.\n  throw new NotWrittenYet(${lessonNumberInCalls}, '${fn}', '${piece.file}', 'a hint');\n}\n`,
  );
  return [`// LESSON ${lesson.number} — ${lesson.title}`, '//', "import { NotWrittenYet } from '../lab-support.js';", '', ...functions].join('\n');
}

describe('the tables and headers that cannot be derived agree with lessons.json', () => {
  test("README.md's lesson table: one row per lesson, with its piece's functions", () => {
    expect(mainTableProblems(catalog, read('README.md'))).toEqual([]);
  });

  test("sandbox/README.md's piece table: one row per piece, with its file and functions", () => {
    expect(sandboxTableProblems(catalog, read('sandbox/README.md'))).toEqual([]);
  });

  test('every starter and reference piece has its lesson header and the functions lessons.json lists', () => {
    const problems = catalog
      .filter((l) => l.piece)
      .flatMap((l) => [...starterProblems(l, read(`sandbox/steps/${l.piece!.file}`)), ...referenceProblems(l, read(`src/runtime/steps/${l.piece!.file}`))]);
    expect(problems).toEqual([]);
  });

  test('every lesson has its mutants, test/lab/mutants/l<id>.ts, and the suite finds them by that name in course order', async () => {
    const { MUTANTS } = await import('../lab/mutants/index.js');
    for (const lesson of catalog) expect(fs.existsSync(path.join(REPO_ROOT, 'test/lab/mutants', checkFile(lesson))), `test/lab/mutants/${checkFile(lesson)}`).toBe(true);
    expect(MUTANTS.map((group) => group.lesson), 'the lessons of MUTANTS in test/lab/mutants/index.ts').toEqual(catalog.map((l) => l.id));
  });

  test('every check module in src/lab/checks/ (l*.ts) belongs to a lesson: the check glob bundles only checks', () => {
    const modules = fs.readdirSync(CHECKS_DIR).filter((f) => f.startsWith('l'));
    expect(modules.sort()).toEqual(catalog.map((l) => checkFile(l)).sort());
  });
});

describe('a new lesson is one lessons.json entry: derived tables pick up a throwaway extra lesson', () => {
  test('the table checks name the line where its README rows go', () => {
    const readme = read('README.md');
    const problems = mainTableProblems(extended, readme);
    expect(problems).toHaveLength(1);
    const lastRow = readme.split('\n').reduce((at, l, i) => (l.startsWith(`| ${catalog.length - 1} |`) ? i + 1 : at), 0);
    expect(problems[0]).toBe(`README.md:${lastRow}: no row for lesson ${extra.number} (${extra.id}) after this line: | ${extra.number} | … | \`firstStep\`, \`secondStep\` |`);
    const sandboxProblems = sandboxTableProblems(extended, read('sandbox/README.md'));
    expect(sandboxProblems).toHaveLength(1);
    expect(sandboxProblems[0]).toMatch(new RegExp(`^sandbox/README\\.md:\\d+: no row for lesson ${extra.number} \\(${extra.id}\\) after this line: \\| ${extra.number} \\| \`steps/extra-step\\.ts\``));
  });

  test('a README row that lost a function of its piece is named by its line', () => {
    const readme = read('README.md');
    const withRow = readme.replace(/(\n\| \d+ \| [^\n]*\|)(\n\n)/, `$1\n| ${extra.number} | extra | \`firstStep\` |$2`);
    expect(withRow).not.toBe(readme);
    const problems = mainTableProblems(extended, withRow);
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^README\\.md:\\d+: lesson ${extra.number}'s piece is \`firstStep\`, \`secondStep\` \\(lessons\\.json\\), the row says \`firstStep\`$`))]);
  });

  test('its starter is held to its number: a NotWrittenYet naming another lesson is reported with its line', () => {
    expect(starterProblems(extra, starterText(extra))).toEqual([]);
    const wrapped = starterText(extra).replace(`NotWrittenYet(${extra.number}, 'firstStep', `, `NotWrittenYet(\n    ${extra.number},\n    'firstStep',\n    `);
    expect(wrapped).not.toBe(starterText(extra));
    expect(starterProblems(extra, wrapped)).toEqual([]);
    const wrong = starterText(extra, 3);
    const line = wrong.split('\n').findIndex((l) => l.includes("NotWrittenYet(3, 'firstStep'")) + 1;
    expect(starterProblems(extra, wrong)[0]).toBe(
      `sandbox/steps/extra-step.ts:${line}: should throw new NotWrittenYet(${extra.number}, 'firstStep', 'extra-step.ts', '<hint>')`,
    );
  });

  test('the steps contract gets its piece file with both functions', () => {
    expect(pieceContract(extended)['extra-step.ts']).toEqual({ lesson: extra.number, functions: ['firstStep', 'secondStep'] });
    expect(Object.keys(pieceContract(extended))).toHaveLength(Object.keys(pieceContract(catalog)).length + 1);
  });

  test('its check is found by the naming convention, from the sources and from an esbuild bundle', async () => {
    const dir = path.join(tempDir(), 'checks');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(CHECKS_DIR, 'index.ts'), path.join(dir, 'index.ts'));
    fs.writeFileSync(path.join(dir, checkFile(extra)), "export const check = async () => [{ name: 'the extra check', ok: true }];\n");
    const probe = { id: extra.id };

    const fromSource = (await import(path.join(dir, 'index.ts'))) as typeof import('../../src/lab/checks/index.js');
    const check = await fromSource.checkFor(probe);
    expect(typeof check).toBe('function');
    expect(await check!({} as CheckContext)).toEqual([{ name: 'the extra check', ok: true }]);
    expect(await fromSource.checkFor({ id: '99-nowhere' })).toBeUndefined();
    expect(await fromSource.checkFor({ id: '../index' })).toBeUndefined();

    const out = path.join(dir, 'bundle.cjs');
    await build({ entryPoints: [path.join(dir, 'index.ts')], bundle: true, format: 'cjs', platform: 'node', outfile: out, supported: { 'dynamic-import': false }, logLevel: 'silent' });
    const bundled = createRequire(import.meta.url)(out) as typeof fromSource;
    expect(await (await bundled.checkFor(probe))!({} as CheckContext)).toEqual([{ name: 'the extra check', ok: true }]);
    expect(await bundled.checkFor({ id: '99-nowhere' })).toBeUndefined();
  });

  test("the real checks index bundles every lesson's check module", async () => {
    const result = await build({
      entryPoints: [path.join(CHECKS_DIR, 'index.ts')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      write: false,
      metafile: true,
      external: ['koffi', 'esbuild'],
      supported: { 'dynamic-import': false },
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs).map((f) => path.resolve(f));
    for (const lesson of catalog) expect(inputs, checkFile(lesson)).toContain(path.join(CHECKS_DIR, checkFile(lesson)));
  });

  test("a check requires the container of its own lesson's number", () => {
    const container = { pid: process.pid, level: extra.number - 1, lesson: catalog.at(-1)!.id } as LessonContainer;
    const ctx = (level: number) => ({ lesson: extra, container: { ...container, level } }) as unknown as CheckContext;
    const refused = requireContainer(ctx(extra.number - 1));
    expect(Array.isArray(refused) && refused[0]).toMatchObject({ ok: false, expected: `a lesson container at level ${extra.number} or higher` });
    expect(requireContainer(ctx(extra.number))).toMatchObject({ level: extra.number });
  });

  test('the lesson containers get the features of the lessons up to theirs; a lesson without one adds none', () => {
    expect(featuresThrough(extended, extra.number)).toEqual(featuresThrough(catalog, catalog.length - 1));
    const withFeature = catalog.filter((l) => l.feature);
    for (const lesson of withFeature) {
      expect(featuresThrough(catalog, lesson.number)).toEqual(withFeature.filter((l) => l.number <= lesson.number).map((l) => l.feature));
      expect(featuresThrough(catalog, lesson.number - 1)).not.toContain(lesson.feature);
    }
    // Taken from its lesson, a feature is in no container.
    const without = catalog.map((l) => (l.feature === 'uts' ? { ...l, feature: undefined } : l));
    expect(featuresThrough(without, catalog.length)).toEqual(withFeature.map((l) => l.feature).filter((f) => f !== 'uts'));
  });

  test("the capstone's suspects follow a piece to the lesson lessons.json gives it", () => {
    const failures = [{ test: 'test/lifecycle/hostname.test.ts: hostname > set', message: 'sethostname: EPERM' }];
    const hostnameLesson = catalog.find((l) => l.piece?.file === 'hostname.ts')!;
    expect(likelyPiece(failures, catalog)?.lesson.number).toBe(hostnameLesson.number);
    const renumbered = catalog.map((l) => (l.piece?.file === 'hostname.ts' ? { ...l, number: 42 } : l));
    expect(likelyPiece(failures, renumbered)?.lesson.number).toBe(42);
  });
});

describe('catalogProblems refuses entries that would name the wrong files', () => {
  const base = (over: Partial<LessonInfo>): LessonInfo[] => [{ id: '00-a', number: 0, title: 'A', file: '00-a.md', hints: [], ...over }];

  test.each([
    ['an id that leaves the directory', { id: '../x', file: '../x.md' }, /the id must be "00-"/],
    ['an id whose number is not its position', { id: '01-a', file: '01-a.md' }, /the id must be "00-"/],
    ['a file that is not <id>.md', { file: 'other.md' }, /"file" must be "00-a.md"/],
    ['a piece file with a path', { piece: { file: '../x.ts', functions: ['f'] } }, /piece file must be a name/],
    ['a piece without functions', { piece: { file: 'x.ts', functions: [] } }, /one or more camelCase names/],
    ['an unknown feature', { feature: 'landlock' as never }, /unknown feature "landlock"/],
  ])('%s', (_name, over, message) => {
    const problems = catalogProblems(base(over));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  test('features out of the launcher order, twice, or a piece file twice', () => {
    const two = (a: Partial<LessonInfo>, b: Partial<LessonInfo>) => [...base(a), { id: '01-b', number: 1, title: 'B', file: '01-b.md', hints: [], ...b }];
    expect(catalogProblems(two({ feature: 'mount' }, { feature: 'uts' }))).toEqual([expect.stringMatching(/feature "uts" must come after "mount"/)]);
    expect(catalogProblems(two({ feature: 'uts' }, { feature: 'uts' }))).toEqual([expect.stringMatching(/feature "uts" must come after "uts" and only once/)]);
    expect(catalogProblems(two({ piece: { file: 'x.ts', functions: ['f'] } }, { piece: { file: 'x.ts', functions: ['g'] } }))).toEqual([
      expect.stringMatching(/x\.ts belongs to an earlier lesson/),
    ]);
  });
});
