// OCI hooks: prestart, createRuntime, poststart, poststop. Each hook is a shell script in a temp dir
// that appends its name to an `order` file and saves the state JSON it got on stdin.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite } from '../helpers/bundle.js';
import { processExists, waitFor } from '../helpers/kernel.js';
import { findPrefixedCgroups } from '../helpers/leaks.js';
import { describeResult, expectOk } from '../helpers/runtime.js';

const s = setupSuite('hooks');

const HOOKS = ['prestart', 'createRuntime', 'poststart', 'poststop'] as const;
type HookName = (typeof HOOKS)[number];

/** A hook script that records `$1` (its name), `$HOOK_VAR` and its stdin in `dir`. */
function writeHookScript(dir: string): string {
  const script = path.join(dir, 'hook.sh');
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      `out=${dir}`,
      'cat > "$out/$1.json"',
      'echo "$1 $HOOK_VAR" >> "$out/order"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return script;
}

function readOrder(dir: string): string[] {
  const f = path.join(dir, 'order');
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
}

function readHookState(dir: string, hook: HookName): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(dir, `${hook}.json`), 'utf8')) as Record<string, any>;
}

describe('hooks', () => {
  test('prestart, createRuntime, poststart, poststop run in order with the right state', async () => {
    const dir = s.tmpDir('hooks');
    const script = writeHookScript(dir);
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.annotations = { 'org.tslab.hooks': 'yes' };
      spec.hooks = Object.fromEntries(
        HOOKS.map((h) => [h, [{ path: script, args: ['hook.sh', h], env: [`HOOK_VAR=env-${h}`] }]]),
      );
    });
    const id = s.id();
    const pidFile = path.join(dir, 'init.pid');
    expectOk(await s.create(b, id, ['--pid-file', pidFile]));
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));

    // create ran the create-time hooks, in this order. (runc 1.1.5 also runs poststart here already.)
    const afterCreate = readOrder(dir).map((l) => l.split(' ')[0]);
    expect(afterCreate.slice(0, 2)).toEqual(['prestart', 'createRuntime']);
    expect(afterCreate).not.toContain('poststop');

    expectOk(await s.rt.exec(['start', id]));
    await waitFor(() => readOrder(dir).some((l) => l.startsWith('poststart')), 5000, 'poststart hook');
    expect(readOrder(dir).map((l) => l.split(' ')[0])).not.toContain('poststop');

    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    await s.rt.waitForStatus(id, 'stopped');
    expectOk(await s.rt.exec(['delete', id]));
    await waitFor(() => readOrder(dir).some((l) => l.startsWith('poststop')), 5000, 'poststop hook');

    // Each hook ran once, with its args and env, in order.
    expect(readOrder(dir)).toEqual(HOOKS.map((h) => `${h} env-${h}`));

    for (const h of HOOKS) {
      const st = readHookState(dir, h);
      expect(st.id, h).toBe(id);
      expect(st.bundle, h).toBe(b.dir);
      expect(typeof st.ociVersion, h).toBe('string');
      expect(st.annotations, h).toEqual({ 'org.tslab.hooks': 'yes' });
    }
    for (const h of ['prestart', 'createRuntime'] as const) {
      const st = readHookState(dir, h);
      expect(st.pid, h).toBe(pid);
      expect(st.status, h).toBe('creating');
    }
    const post = readHookState(dir, 'poststart');
    expect(post.pid).toBe(pid);
    // runc 1.1.5 says "created" here (it runs poststart during create); the spec says "running".
    expect(['created', 'running']).toContain(post.status);
    expect(readHookState(dir, 'poststop').status).toBe('stopped');
  });

  test('hooks run for `run` too, and poststop when it ends', async () => {
    const dir = s.tmpDir('hooks');
    const script = writeHookScript(dir);
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.hooks = Object.fromEntries(HOOKS.map((h) => [h, [{ path: script, args: ['hook.sh', h] }]]));
    });
    const id = s.id();
    expectOk(await s.runFg(b, id));
    expect(readOrder(dir).map((l) => l.split(' ')[0])).toEqual([...HOOKS]);
    expect(readHookState(dir, 'poststop').id).toBe(id);
  });

  test('a failing prestart hook makes create fail and leaves no container', async () => {
    const dir = s.tmpDir('hooks');
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.hooks = {
        prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo hook-said-no >&2; exit 7'] }],
        poststart: [{ path: '/bin/sh', args: ['sh', '-c', `touch ${dir}/poststart-ran`] }],
      };
    });
    const id = s.id();
    const pidFile = path.join(dir, 'init.pid');
    const r = await s.create(b, id, ['--pid-file', pidFile]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.code, describeResult(r)).not.toBeNull();
    expect(r.stderr).toMatch(/hook/i);
    expect(fs.existsSync(path.join(dir, 'poststart-ran'))).toBe(false);
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect((await s.rt.list()).map((c) => c.id)).not.toContain(id);
    expect(fs.existsSync(path.join(s.rt.root, id))).toBe(false);
    expect(findPrefixedCgroups(id)).toEqual([]);
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      await waitFor(() => !processExists(pid), 5000, 'init gone');
    }
  });

  test('a hook that is not there makes create fail and leaves no container', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.hooks = { createRuntime: [{ path: path.join(s.dir, 'no-such-hook') }] };
    });
    const id = s.id();
    const r = await s.create(b, id);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect(findPrefixedCgroups(id)).toEqual([]);
  });
});
