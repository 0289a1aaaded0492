// Lesson 11's step (src/runtime/steps/seccomp-filter.ts) against the real kernel, in a child process: a
// filter stays for the life of the process. buildFilter puts nothing in the kernel; loadFilter sets
// no_new_privs and loads it; a rule answers its errnoRet, EPERM without one; a name libseccomp does not
// know is skipped; the default action answers the rest.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/runtime.js';

const isRoot = process.getuid?.() === 0;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-seccomp-step-'));
const probe = path.join(work, 'seccomp-filter-probe.cjs');

beforeAll(() => {
  buildSync({
    entryPoints: [path.join(REPO_ROOT, 'test/helpers/seccomp-filter-probe.ts')],
    outfile: probe,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['koffi'],
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'src/linux/libc.ts')).href) },
    logLevel: 'warning',
  });
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function run(profile: object): Record<string, any> {
  return JSON.parse(execFileSync(process.execPath, [probe, JSON.stringify(profile)], { encoding: 'utf8', timeout: 15_000 }));
}

describe.skipIf(!isRoot)('buildFilter and loadFilter', () => {
  test('built, no filter is added; loaded, one filter and no_new_privs, and each rule answers its errnoRet', () => {
    const r = run({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['tslab_no_such_call', 'unshare'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
    });
    expect(r.built).toEqual({ added: 0 });
    expect(r.loaded).toEqual({ seccomp: '2', added: 1, noNewPrivs: '1' });
    // setns is named by no rule: the default action lets it through (and it works: root joining its own namespace).
    expect(r.answers).toEqual({ unshare: 'ENOSYS', setns: 'worked' });
  });

  test('a rule without errnoRet answers EPERM, as the OCI spec says', () => {
    const r = run({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['unshare', 'setns'], action: 'SCMP_ACT_ERRNO' }] });
    expect(r.answers).toEqual({ unshare: 'EPERM', setns: 'EPERM' });
  });
});
