// The capstone's progress display: vitest's line for each finished file becomes "[n/total] ✔ file: ...", any
// other line shows nothing, and the failures are summed up per lesson piece.
import { describe, expect, test } from 'vitest';
import { SuiteProgress, pieceSummary } from '../../src/lab/suite-progress.js';
import { REPO_ROOT, catalog } from './lab-env.js';

describe('SuiteProgress', () => {
  test("one line per finished file (vitest 4's default reporter, not on a terminal), counted against the files given", () => {
    const progress = new SuiteProgress(REPO_ROOT, ['test/lifecycle/errors.test.ts', 'test/lifecycle/process.test.ts', 'test/lifecycle/hooks.test.ts']);
    expect(progress.line(' RUN  v4.1.12 /work/main')).toBeUndefined();
    expect(progress.line('     ✓ missing config.json  3289ms')).toBeUndefined();
    expect(progress.line(' ✓ |lifecycle:tslab| test/lifecycle/errors.test.ts (32 tests) 103160ms')).toBe('[1/3] ✔ errors.test.ts: 32 passed, 103 s');
    expect(progress.line(' ❯ |lifecycle:tslab| test/lifecycle/process.test.ts (18 tests | 2 failed | 1 skipped) 9400ms')).toBe(
      '[2/3] ✘ process.test.ts: 2 of 18 failed, 1 skipped, 9 s',
    );
    expect(progress.line(' ❯ test/lifecycle/hooks.test.ts (3 tests | 1 failed) 30ms')).toBe('[3/3] ✘ hooks.test.ts: 1 of 3 failed, 0 s');
  });

  test('without files named, the total is every file of test/lifecycle/', () => {
    const progress = new SuiteProgress(REPO_ROOT, []);
    expect(progress.line(' ✓ |lifecycle:tslab| test/lifecycle/cli.test.ts (5 tests) 2000ms')).toMatch(/^\[1\/(\d+)\] ✔ cli\.test\.ts: 5 passed, 2 s$/);
    const total = Number(/\/(\d+)\]/.exec(progress.line(' ✓ test/lifecycle/x.test.ts (1 test) 1ms')!)![1]);
    expect(total).toBeGreaterThan(5);
  });
});

describe('pieceSummary', () => {
  test('failures are counted against the piece each points to, most first; the rest are said to point nowhere', () => {
    const unwritten = (n: number, test: string) => ({ test, message: `spawnInNewPidNamespace() in sandbox/steps/x.ts is not written yet (lesson ${n})` });
    const lines = pieceSummary(
      [unwritten(3, 'a.test.ts: one'), unwritten(9, 'b.test.ts: two'), unwritten(3, 'c.test.ts: three'), { test: 'd.test.ts: four', message: '' }],
      catalog,
    );
    expect(lines[0]).toBe('by lesson piece:');
    const three = catalog.find((l) => l.number === 3)!;
    expect(lines[1]).toContain(`lesson 3's ${three.piece!.functions[0]}()`);
    expect(lines[1]).toContain('2 failing tests point to it (e.g. a.test.ts: one)');
    expect(lines[2]).toContain("lesson 9's");
    expect(lines[2]).toContain('1 failing test points to it');
    expect(lines[3]).toContain('1 failing test points to no piece in particular (e.g. d.test.ts: four)');
  });

  test('no failure: one line that says so', () => {
    expect(pieceSummary([], catalog)).toEqual(['every test passed: no lesson piece is at fault']);
  });
});
