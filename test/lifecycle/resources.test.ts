// cgroups: where they are made, that they exist while running and are gone after delete, and that
// memory and pids limits really hold.
//
// Only cgroup directories named with this run's prefix are ever looked at; nothing is changed or
// removed by the test itself.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { cgroupDirOf, cgroupMount, cgroupPathOf, processExists, waitFor } from '../helpers/kernel.js';
import { findPrefixedCgroups } from '../helpers/leaks.js';
import { describeResult, expectOk } from '../helpers/runtime.js';

const s = setupSuite('res');

/** The v1 controllers every container must be placed in on this (hybrid) machine. */
const CONTROLLERS = ['memory', 'pids', 'devices', 'freezer', 'cpu'].filter((c) => cgroupMount(c) !== undefined);

const MiB = 1024 * 1024;

async function runDetached(mutate?: (spec: SpecJson) => void): Promise<{ id: string; pid: number }> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sleep', '1000'];
    mutate?.(spec);
  });
  const id = s.id();
  expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
  const st = await s.rt.state(id);
  return { id, pid: st.pid };
}

/** Checks the container's cgroup dirs: at `expected(controller)`, existing, holding the init pid. */
function expectCgroups(pid: number, expected: (controller: string) => string): string[] {
  const dirs: string[] = [];
  for (const c of CONTROLLERS) {
    expect(cgroupPathOf(pid, c), c).toBe(expected(c));
    const dir = cgroupDirOf(pid, c)!;
    expect(fs.existsSync(dir), dir).toBe(true);
    const procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    expect(procs, `${dir}/cgroup.procs`).toContain(pid);
    dirs.push(dir);
  }
  return dirs;
}

async function deleteAndExpectGone(id: string, pid: number, dirs: string[]): Promise<void> {
  expectOk(await s.rt.exec(['delete', '--force', id]));
  await waitFor(() => !processExists(pid), 5000, 'init gone');
  for (const d of dirs) expect(fs.existsSync(d), d).toBe(false);
  expect(findPrefixedCgroups(id)).toEqual([]);
}

describe('cgroup placement', () => {
  test('unset cgroupsPath: cgroups named after the id, under the caller\'s own cgroups', async () => {
    const { id, pid } = await runDetached((spec) => {
      delete spec.linux.cgroupsPath;
    });
    const dirs = expectCgroups(pid, (c) => path.posix.join(cgroupPathOf('self', c)!, id));
    await deleteAndExpectGone(id, pid, dirs);
  });

  test('relative cgroupsPath: under the caller\'s own cgroups', async () => {
    const name = `${s.prefix}-rel`;
    const { id, pid } = await runDetached((spec) => {
      spec.linux.cgroupsPath = name;
    });
    const dirs = expectCgroups(pid, (c) => path.posix.join(cgroupPathOf('self', c)!, name));
    await deleteAndExpectGone(id, pid, dirs);
    expect(findPrefixedCgroups(name)).toEqual([]);
  });

  test('absolute cgroupsPath: at the root of each hierarchy', async () => {
    const name = `${s.prefix}-abs`;
    const { id, pid } = await runDetached((spec) => {
      spec.linux.cgroupsPath = `/${name}`;
    });
    const dirs = expectCgroups(pid, () => `/${name}`);
    await deleteAndExpectGone(id, pid, dirs);
    expect(findPrefixedCgroups(name)).toEqual([]);
  });

  test('cgroups exist from create on and are gone after a plain delete of a stopped container', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    const { pid } = await s.rt.state(id);
    const dirs = expectCgroups(pid, (c) => path.posix.join(cgroupPathOf('self', c)!, id));
    expectOk(await s.rt.exec(['start', id]));
    for (const d of dirs) expect(fs.existsSync(d), d).toBe(true);
    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    await s.rt.waitForStatus(id, 'stopped');
    expectOk(await s.rt.exec(['delete', id]));
    for (const d of dirs) expect(fs.existsSync(d), d).toBe(false);
    expect(findPrefixedCgroups(id)).toEqual([]);
  });
});

describe('memory', () => {
  // dd allocates one 64 MiB buffer and fills it from /dev/zero: 64 MiB really touched.
  const ALLOC_64M = ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'];

  test('the limit is written to the memory cgroup', async () => {
    const { pid } = await runDetached((spec) => {
      spec.linux.resources.memory = { limit: 32 * MiB, swap: 32 * MiB };
    });
    const dir = cgroupDirOf(pid, 'memory')!;
    expect(Number(fs.readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8'))).toBe(32 * MiB);
    const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
    if (fs.existsSync(memsw)) expect(Number(fs.readFileSync(memsw, 'utf8'))).toBe(32 * MiB);
  });

  test('a 32 MiB limit kills a 64 MiB allocation (exit 137)', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ALLOC_64M;
      spec.linux.resources.memory = { limit: 32 * MiB, swap: 32 * MiB };
    });
    const r = await s.runFg(b, s.id());
    expect(r.code, describeResult(r)).toBe(137);
  });

  test('without a limit the same allocation succeeds', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ALLOC_64M;
    });
    const r = await s.runFg(b, s.id());
    expect(r.code, describeResult(r)).toBe(0);
  });
});

describe('pids', () => {
  const FORK_LOOP = 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; echo forked-all';

  test('the limit is written to the pids cgroup', async () => {
    const { pid } = await runDetached((spec) => {
      spec.linux.resources.pids = { limit: 10 };
    });
    const dir = cgroupDirOf(pid, 'pids')!;
    expect(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim()).toBe('10');
  });

  test('a pids limit stops a fork loop', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sh', '-c', FORK_LOOP];
      spec.linux.resources.pids = { limit: 10 };
    });
    const r = await s.runFg(b, s.id());
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stdout).not.toContain('forked-all');
    expect(r.stderr).toMatch(/fork/i);
  });

  test('without a limit the same loop completes', async () => {
    const b = await s.bundle((spec) => {
      // The children are killed with the pid namespace when the shell (pid 1) exits.
      spec.process.args = ['sh', '-c', FORK_LOOP];
    });
    const r = await s.runFg(b, s.id());
    expectOk(r);
    expect(r.stdout).toContain('forked-all');
  });
});
