// `exec --process FILE` reads a process.json that engines write, but the path comes from whoever calls the
// runtime: it is hostile input like config.json. A FIFO nobody writes, /dev/zero (or a link to it), a
// directory, a file over the 4 MiB cap and JSON nested past any stack must each be refused with a sentence,
// promptly, without starting anything in the container; the container keeps running and a good process.json
// still works afterwards. runc 1.1.5 reads the file whole (a FIFO blocks it, /dev/zero never ends), so these
// run against tslab-runtime only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite } from '../helpers/bundle.js';
import { REPO_ROOT, describeResult, type RunResult } from '../helpers/runtime.js';
import { runCaptured } from './escape-helpers.js';

const s = setupSuite('exec-process-file');
const TSLAB = process.env.TSLAB_TEST_RUNTIME_BIN || path.join(REPO_ROOT, 'bin/tslab-runtime.cjs');
const CAP_BYTES = 4 * 1024 * 1024;

function tslab(args: string[], timeoutMs = 20_000): Promise<RunResult> {
  return runCaptured([TSLAB, '--root', s.rt.root, ...args], path.join(s.dir, 'io'), { timeoutMs });
}

/** The processes in the container, as /proc inside it lists them (one pid per line, the listing shell excluded). */
async function pidsIn(id: string): Promise<string[]> {
  const r = await tslab(['exec', id, 'sh', '-c', 'for p in /proc/[0-9]*; do [ "${p#/proc/}" = $$ ] || echo ${p#/proc/}; done']);
  expect(r.code, describeResult(r)).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('exec --process with a hostile file', () => {
  test('each hostile file is refused with a sentence, at once, and nothing starts in the container', async () => {
    const id = `${s.prefix}-target`;
    const files = s.tmpDir('process-files');
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    // Deferred work runs before the bundle is removed; the suite's own cleanup would ask runc.
    s.defer(async () => {
      await tslab(['delete', '--force', id]);
    });
    expect((await tslab(['run', '--detach', '--bundle', b.dir, id])).code).toBe(0);
    const containerPids = () => pidsIn(id);
    const before = await containerPids();

    const fifo = path.join(files, 'fifo');
    fs.mkdirSync(path.join(files, 'dir'));
    fs.symlinkSync('/dev/zero', path.join(files, 'zero-link'));
    const big = path.join(files, 'big.json');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, CAP_BYTES + 1);
    const deep = path.join(files, 'deep.json');
    fs.writeFileSync(deep, '['.repeat(CAP_BYTES - 1));
    const wrongShape = path.join(files, 'shape.json');
    fs.writeFileSync(wrongShape, JSON.stringify({ args: 'sh', cwd: 7 }));
    await runCaptured(['mkfifo', fifo], path.join(s.dir, 'io'));

    const cases: Array<[string, RegExp]> = [
      [fifo, /not a regular file/],
      ['/dev/zero', /not a regular file/],
      [path.join(files, 'zero-link'), /not a regular file/],
      [path.join(files, 'dir'), /not a regular file|is a directory/i],
      [big, new RegExp(`${CAP_BYTES + 1} bytes, more than`)],
      [deep, /not JSON/],
      [wrongShape, /args|cwd/],
      [path.join(files, 'missing.json'), /no such file|ENOENT/i],
    ];
    for (const [file, message] of cases) {
      const started = Date.now();
      const r = await tslab(['exec', '--process', file, id], 15_000);
      const what = `${file}\n${describeResult(r)}`;
      expect(r.timedOut, what).toBe(false);
      expect(r.signal ?? null, what).toBe(null);
      expect(r.code, what).not.toBe(0);
      expect(r.stderr, what).toMatch(message);
      expect(Date.now() - started, what).toBeLessThan(10_000);
    }
    expect(await containerPids()).toEqual(before);

    const good = path.join(files, 'good.json');
    fs.writeFileSync(good, JSON.stringify({ args: ['sh', '-c', 'echo still-works'], cwd: '/', env: ['PATH=/bin:/usr/bin'], user: { uid: 0, gid: 0 } }));
    const r = await tslab(['exec', '--process', good, id]);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('still-works\n');
  });
});
