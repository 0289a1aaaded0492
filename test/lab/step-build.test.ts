// The learner's steps reach the build whatever path leads to them. esbuild names every file by its real path,
// so a checkout or a sandbox reached through a symlink must be compared the same way: compared as given, the
// steps of a checkout whose src/ was a symlink were never swapped in, the build held the reference's, and
// `tslab check` passed the untouched starter. And a step the build did not take from the sandbox fails it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { buildWithSteps } from '../../src/lab/step-build.js';
import { REPO_ROOT, copyStarterSandbox, describeResult, runTslab, tempDirs } from './lab-env.js';

const dirs = tempDirs('step-build');

afterAll(() => dirs.removeAll());

/** Neither the learner builds nor the code cache of this checkout belong in a copy of its dist/. */
const NOT_COPIED = new Set([path.join('dist', 'mine'), path.join('dist', '.v8-cache')]);

test("a checkout reached through symlinks checks the learner's starter, not the reference", async () => {
  const root = dirs.make('linked-checkout');
  // Its own built programs (the lab finds the checkout from them), everything else a link to this checkout.
  for (const dir of ['bin', 'dist']) {
    fs.cpSync(path.join(REPO_ROOT, dir), path.join(root, dir), { recursive: true, filter: (src) => !NOT_COPIED.has(path.relative(REPO_ROOT, src)) });
  }
  for (const name of ['src', 'lessons', 'node_modules', 'package.json']) fs.symlinkSync(path.join(REPO_ROOT, name), path.join(root, name));
  fs.symlinkSync(copyStarterSandbox(dirs.make('starter')), path.join(root, 'sandbox'));

  const r = await runTslab(['check', '00-preflight'], { tslab: path.join(root, 'bin', 'tslab.cjs'), env: { TSLAB_DATA_DIR: dirs.make('data') } });
  expect(r.code, describeResult(r)).toBe(1);
  expect(r.output, describeResult(r)).toContain('filesystemSupported() in sandbox/steps/preflight.ts is not written yet (lesson 0)');
  expect(fs.readdirSync(path.join(root, 'dist', 'mine')), 'the learner build, made inside the linked checkout').toHaveLength(1);
});

test('a step of the sandbox that no program imports fails the build rather than leave the reference checked', async () => {
  const sandbox = copyStarterSandbox(dirs.make('sandbox'));
  fs.writeFileSync(path.join(sandbox, 'steps', 'imported-by-nobody.ts'), 'export const nobody = true;\n');
  const saved = process.env.TSLAB_SANDBOX;
  process.env.TSLAB_SANDBOX = sandbox;
  const mine = path.join(REPO_ROOT, 'dist', 'mine');
  const before = fs.existsSync(mine) ? fs.readdirSync(mine) : [];
  try {
    await expect(buildWithSteps(['imported-by-nobody.ts'])).rejects.toThrow(/did not take steps\/imported-by-nobody\.ts from your sandbox/);
  } finally {
    if (saved === undefined) delete process.env.TSLAB_SANDBOX;
    else process.env.TSLAB_SANDBOX = saved;
  }
  expect(fs.existsSync(mine) ? fs.readdirSync(mine) : [], 'no build and no half-made one left').toEqual(before);
});
