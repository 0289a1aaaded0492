// Bad input: each case is a clear error (a message on stderr), a non-zero exit, and no change on the
// host (no state entry, no cgroup, no process, no mount, nothing new next to the state dir).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type Bundle } from '../helpers/bundle.js';
import { processExists } from '../helpers/kernel.js';
import { findLeaks, findPrefixedCgroups, formatLeaks } from '../helpers/leaks.js';
import { AS_NOBODY, worldReadableBuild } from '../helpers/unprivileged.js';
import { expectError, expectOk, KNOWN_DIFFERENCES, type RunResult, runtimeCommand } from '../helpers/runtime.js';

const s = setupSuite('err');

function listing(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** Snapshot of what a failed command must not change. */
function hostSnapshot(): { root: string[]; parent: string[] } {
  return { root: listing(s.rt.root), parent: listing(path.dirname(s.rt.root)) };
}

/** The container `id` left no trace, and the state dir and its parent look as before. */
async function expectNoTrace(id: string, before: { root: string[]; parent: string[] }, bundle?: Bundle): Promise<void> {
  expect((await s.rt.exec(['state', id])).code).not.toBe(0);
  expect(listing(s.rt.root)).toEqual(before.root);
  expect(listing(path.dirname(s.rt.root))).toEqual(before.parent);
  if (id) expect(findPrefixedCgroups(id)).toEqual([]);
  const leaks = findLeaks({ prefix: id || s.prefix, paths: bundle ? [bundle.dir] : [], stateRoots: [] });
  expect(leaks, formatLeaks(leaks)).toEqual([]);
}

/** create with the given bundle must fail cleanly. */
async function expectCreateFails(b: Bundle, message?: RegExp): Promise<RunResult> {
  const id = s.id();
  const before = hostSnapshot();
  const r = await s.create(b, id);
  expectError(r, message);
  await expectNoTrace(id, before, b);
  return r;
}

describe('config.json', () => {
  test('missing config.json', async () => {
    const b = await s.bundle();
    fs.rmSync(b.configPath);
    await expectCreateFails(b, /config\.json/);
  });

  test('malformed config.json', async () => {
    const b = await s.bundle();
    fs.writeFileSync(b.configPath, '{"ociVersion": "1.0.2", "process": {bad');
    await expectCreateFails(b);
  });

  test('empty config.json', async () => {
    const b = await s.bundle();
    fs.writeFileSync(b.configPath, '');
    await expectCreateFails(b);
  });

  test('an unknown top-level field is accepted', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.tslabUnknownField = { anything: [1, 2, 3] };
    });
    const id = s.id();
    const r = await s.create(b, id);
    expectOk(r);
    expect((await s.rt.state(id)).status).toBe('created');
    if (KNOWN_DIFFERENCES.warnsOnUnknownField) expect(r.stderr).toMatch(/unknown field "tslabUnknownField"/);
    else expect(r.stderr).toBe('');
  });

  test.each([
    ['process.args is a string', (spec: Record<string, any>) => void (spec.process.args = 'sh')],
    ['hostname is a number', (spec: Record<string, any>) => void (spec.hostname = 5)],
    ['process is a string', (spec: Record<string, any>) => void (spec.process = 'sh')],
    ['root.readonly is a string', (spec: Record<string, any>) => void (spec.root.readonly = 'yes')],
    ['linux.namespaces is an object', (spec: Record<string, any>) => void (spec.linux.namespaces = { type: 'pid' })],
  ])('a field of the wrong type is an error: %s', async (_name, mutate) => {
    const b = await s.bundle(mutate);
    await expectCreateFails(b);
  });

  test('no process in config.json', async () => {
    const b = await s.bundle((spec) => {
      delete spec.process;
    });
    await expectCreateFails(b);
  });
});

describe('paths', () => {
  test('--bundle that does not exist', async () => {
    const id = s.id();
    const before = hostSnapshot();
    const r = await s.rt.exec(['create', '--bundle', path.join(s.dir, 'no-such-bundle'), id]);
    expectError(r);
    await expectNoTrace(id, before);
  });

  test('missing rootfs', async () => {
    const b = await s.bundle();
    fs.rmSync(b.rootfs, { recursive: true });
    await expectCreateFails(b, /rootfs/);
  });

  test('root.path that does not exist (absolute)', async () => {
    const b = await s.bundle((spec) => {
      spec.root.path = path.join(s.dir, 'no-such-rootfs');
    });
    await expectCreateFails(b, /no-such-rootfs/);
  });

  test('a program that is not in the rootfs', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['/no-such-program'];
    });
    await expectCreateFails(b, /no-such-program/);
  });

  test('a relative cwd', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.process.cwd = 'tmp';
    });
    await expectCreateFails(b);
  });

  test('a pid file in a directory that does not exist', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    const before = hostSnapshot();
    const r = await s.create(b, id, ['--pid-file', path.join(s.dir, 'no-such-dir', 'init.pid')]);
    expectError(r);
    await expectNoTrace(id, before, b);
  });
});

describe('container ids', () => {
  test.each([
    ['a slash', (p: string) => `${p}/x`],
    ['dot-dot', () => '..'],
    ['a dot-dot path', (p: string) => `../${p}-escape`],
    ['a dot', () => '.'],
    ['a space', (p: string) => `${p} x`],
    ['nothing', () => ''],
  ])('an id with %s is refused', async (_name, makeId) => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = makeId(`${s.prefix}-badid`);
    const before = hostSnapshot();
    const r = await s.create(b, id);
    expectError(r);
    expect(listing(s.rt.root)).toEqual(before.root);
    expect(listing(path.dirname(s.rt.root))).toEqual(before.parent);
    expect(findPrefixedCgroups(`${s.prefix}-badid`)).toEqual([]);
    const leaks = findLeaks({ prefix: `${s.prefix}-badid`, paths: [b.dir], stateRoots: [] });
    expect(leaks, formatLeaks(leaks)).toEqual([]);
    // Nothing named like it appeared in any cgroup hierarchy either.
    if (id && id !== '.' && id !== '..') expect(findPrefixedCgroups(path.basename(id))).toEqual([]);
  });

  test('an unprivileged user cannot create a container, and nothing is made', async () => {
    const b = await s.bundle((spec) => (spec.process.args = ['true']));
    const id = s.id();
    const scratch = s.tmpDir('unprivileged');
    fs.chmodSync(scratch, 0o777);
    const root = path.join(scratch, 'state');
    const { file, prefix } = runtimeCommand();
    // runc is world-readable in /usr/sbin; tslab-runtime runs from a copy nobody can read (see the helper).
    const build = file === 'runc' ? undefined : worldReadableBuild();
    const program = build ? path.join(build, 'bin', 'tslab-runtime.cjs') : file;
    const r = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), program, ...prefix, '--root', root, 'create', '--bundle', b.dir, id], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
    if (build) fs.rmSync(build, { recursive: true, force: true });
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.stderr.trim().length).toBeGreaterThan(0);
    // A refusal, not a program that could not even be loaded.
    expect(r.stderr).not.toMatch(/Cannot find module|EACCES: permission denied, open .*\.cjs/);
    expect(findPrefixedCgroups(id)).toEqual([]);
    expect(fs.existsSync(path.join(root, id))).toBe(false);
  });

  test('a duplicate id is refused and the first container is untouched', async () => {
    const b1 = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const b2 = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.create(b1, id));
    const first = await s.rt.state(id);
    const r = await s.create(b2, id);
    expectError(r, /exist/i);
    const after = await s.rt.state(id);
    expect(after.status).toBe('created');
    expect(after.pid).toBe(first.pid);
    expect(after.bundle).toBe(b1.dir);
    expect(processExists(first.pid)).toBe(true);
    // A duplicate `run` is refused the same way.
    expectError(await s.rt.exec(['run', '--detach', '--bundle', b2.dir, id]), /exist/i);
    expect((await s.rt.state(id)).pid).toBe(first.pid);
  });
});

describe('commands on containers that do not exist', () => {
  test.each([['state'], ['start'], ['delete'], ['kill']])('%s of an unknown id fails', async (cmd) => {
    const id = `${s.prefix}-unknown`;
    const before = hostSnapshot();
    const r = await s.rt.exec(cmd === 'kill' ? ['kill', id, 'KILL'] : [cmd, id]);
    expectError(r);
    expect(listing(s.rt.root)).toEqual(before.root);
  });
});

describe('signals', () => {
  test.each([['FOO'], ['SIGFOO'], ['999'], ['-1']])('kill with the unknown signal %s fails and the container keeps running', async (sig) => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
    const { pid } = await s.rt.state(id);
    expectError(await s.rt.exec(['kill', id, sig]));
    const st = await s.rt.state(id);
    expect(st.status).toBe('running');
    expect(processExists(pid)).toBe(true);
  });
});
