// The hook stages beyond hooks.test.ts: createContainer (container namespaces, host path),
// startContainer (inside the container, path in the rootfs), their order, `timeout`, `env` and `args`,
// and poststop after the container is gone (a failing one only warns).
//
// Every expectation here was checked against runc 1.1.5 first. Notable runc facts they rely on:
//   * the state a container-namespace hook gets on stdin has the pid as the container sees it (1),
//     as the runtime-spec says ("For hooks executed in the container namespace, it is the pid as seen
//     by the container"); startContainer gets status "created" (the program has not run yet);
//   * createContainer runs after the mounts but before pivot_root and before sethostname, so the
//     UTS namespace is the container's but still carries the host's name;
//   * startContainer runs after the process's identity is applied (user, capabilities), just before
//     execve of the program.
// Hooks here read their stdin (the state) before doing anything: a hook that exits without reading it
// is a case of its own ('hook stdin' below), kept out of the other tests.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { cgroupMount, nsInodes, processExists, waitFor } from '../helpers/kernel.js';
import { findPrefixedCgroups } from '../helpers/leaks.js';
import { describeResult, expectOk } from '../helpers/runtime.js';

const s = setupSuite('hooks-stages');

function readLines(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** A NUL-separated /proc file (cmdline, environ) saved by a hook, as a list. */
function readNulList(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return text.split('\0').slice(0, text.endsWith('\0') ? -1 : undefined);
}

function writeScript(file: string, lines: string[]): string {
  fs.writeFileSync(file, ['#!/bin/sh', ...lines, ''].join('\n'), { mode: 0o755 });
  return file;
}

/** A host directory the container sees (read-write) at /shared; world-writable for non-root users. */
function sharedDir(spec: SpecJson, dir: string): void {
  fs.chmodSync(dir, 0o777);
  spec.mounts.push({ destination: '/shared', type: 'bind', source: dir, options: ['rbind', 'rw'] });
}

/** Host pids whose command line contains `marker` (hooks are named after their test to find them). */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker) && processExists(Number(e))) found.push(Number(e));
    } catch {
      // gone
    }
  }
  return found;
}

describe('createContainer hooks', () => {
  test('run in the container\'s namespaces, from a path that exists only on the host', async () => {
    const dir = s.tmpDir('cc');
    // The script lives on the host only: the rootfs has no such path.
    const script = writeScript(path.join(dir, 'create-container.sh'), [
      `out=${dir}`,
      'cat > "$out/state.json"',
      'for ns in uts mnt pid net ipc; do echo "$ns $(readlink /proc/self/ns/$ns)"; done > "$out/ns"',
    ]);
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.hostname = 'tslabtest-cc';
      spec.hooks = { createContainer: [{ path: script, args: ['create-container.sh'] }] };
    });
    expect(fs.existsSync(path.join(b.rootfs, script))).toBe(false);
    const id = s.id();
    const pidFile = path.join(dir, 'init.pid');
    expectOk(await s.create(b, id, ['--pid-file', pidFile]));
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));

    const seen = Object.fromEntries(readLines(path.join(dir, 'ns')).map((l) => l.split(' ') as [string, string]));
    const container = nsInodes(pid);
    const host = nsInodes('self');
    for (const ns of ['uts', 'mnt', 'pid', 'net', 'ipc'] as const) {
      expect(seen[ns], ns).toBe(container[ns]);
      expect(seen[ns], ns).not.toBe(host[ns]);
    }

    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as Record<string, unknown>;
    expect(state.id).toBe(id);
    expect(state.bundle).toBe(b.dir);
    // runtime-spec (runtime.md, State): "For hooks executed in the container namespace, it is the pid as
    // seen by the container." The container has its own PID namespace, where its init is 1. (runc: 1.)
    expect({ pid: state.pid, status: state.status }).toEqual({ pid: 1, status: 'creating' });
  });

  test('run before the hostname is set (as in runc): the UTS namespace still has the host\'s name', async () => {
    const dir = s.tmpDir('cc');
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.hostname = 'tslabtest-cc';
      spec.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `cat > /dev/null; hostname > ${dir}/hostname`] }] };
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    expect(fs.readFileSync(path.join(dir, 'hostname'), 'utf8').trim()).toBe(os.hostname());
  });

  test('a failing createContainer hook makes create fail and leaves no container', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null; echo cc-said-no >&2; exit 4'] }] };
    });
    const id = s.id();
    const r = await s.create(b, id);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.code, describeResult(r)).not.toBeNull();
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect(fs.existsSync(path.join(s.rt.root, id))).toBe(false);
    expect(findPrefixedCgroups(id)).toEqual([]);
  });
});

describe('startContainer hooks', () => {
  test('run inside the container at start, before the program, from a path in the rootfs', async () => {
    const shared = s.tmpDir('shared');
    const b = await s.bundle((spec) => {
      sharedDir(spec, shared);
      // The program reports what the hook left behind: proof the hook ran first.
      spec.process.args = ['sh', '-c', 'cat /shared/marker > /shared/seen.tmp; mv /shared/seen.tmp /shared/seen-by-program; exec sleep 1000'];
      spec.hostname = 'tslabtest-sc';
      spec.hooks = { startContainer: [{ path: '/usr/local/bin/tslabtest-start-hook', args: ['tslabtest-start-hook'] }] };
    });
    // The hook exists only inside the rootfs (a busybox script): resolving it on the host would fail.
    fs.mkdirSync(path.join(b.rootfs, 'usr/local/bin'), { recursive: true });
    writeScript(path.join(b.rootfs, 'usr/local/bin/tslabtest-start-hook'), [
      'cat > /shared/state.json',
      'echo started > /shared/marker',
      'hostname > /shared/hostname',
      'readlink /proc/self/ns/uts > /shared/uts',
      'ls /bin/busybox > /shared/root-check',
    ]);
    expect(fs.existsSync('/usr/local/bin/tslabtest-start-hook')).toBe(false);
    const id = s.id();
    const pidFile = path.join(shared, 'init.pid');
    expectOk(await s.create(b, id, ['--pid-file', pidFile]));
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    // Not at create time.
    expect(fs.existsSync(path.join(shared, 'marker'))).toBe(false);

    expectOk(await s.rt.exec(['start', id]));
    await waitFor(() => fs.existsSync(path.join(shared, 'seen-by-program')), 5000, 'the program to run');
    expect(fs.readFileSync(path.join(shared, 'seen-by-program'), 'utf8')).toBe('started\n');
    // Inside the container: its root, its UTS namespace, its hostname.
    expect(fs.readFileSync(path.join(shared, 'root-check'), 'utf8').trim()).toBe('/bin/busybox');
    expect(fs.readFileSync(path.join(shared, 'uts'), 'utf8').trim()).toBe(nsInodes(pid).uts);
    expect(fs.readFileSync(path.join(shared, 'hostname'), 'utf8').trim()).toBe('tslabtest-sc');

    const state = JSON.parse(fs.readFileSync(path.join(shared, 'state.json'), 'utf8')) as Record<string, unknown>;
    expect(state.id).toBe(id);
    expect(state.bundle).toBe(b.dir);
    // The pid as seen by the container (runtime-spec, State; runc: 1), and "created": the program has
    // not been executed yet (runc: "created").
    expect({ pid: state.pid, status: state.status }).toEqual({ pid: 1, status: 'created' });
  });

  test('run as the container process\'s user (runc applies the identity before the hook)', async () => {
    const shared = s.tmpDir('shared');
    const b = await s.bundle((spec) => {
      sharedDir(spec, shared);
      spec.process.user = { uid: 1000, gid: 1001 };
      spec.process.args = ['sleep', '1000'];
      spec.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null; echo "$(id -u) $(id -g)" > /shared/ids.tmp; mv /shared/ids.tmp /shared/ids'] }] };
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    expectOk(await s.rt.exec(['start', id]));
    await waitFor(() => fs.existsSync(path.join(shared, 'ids')), 5000, 'the startContainer hook');
    expect(fs.readFileSync(path.join(shared, 'ids'), 'utf8').trim()).toBe('1000 1001');
  });

  test('a failing startContainer hook makes start fail and the program never runs', async () => {
    const shared = s.tmpDir('shared');
    const b = await s.bundle((spec) => {
      sharedDir(spec, shared);
      spec.process.args = ['sh', '-c', 'touch /shared/program-ran; exec sleep 1000'];
      spec.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null; exit 5'] }] };
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    // runc reports the hook's failure through the init, which start does not wait for: start may even
    // exit 0. What both must do: the program never runs, and the container ends up stopped.
    await s.rt.exec(['start', id]);
    await s.rt.waitForStatus(id, 'stopped');
    expect(fs.existsSync(path.join(shared, 'program-ran'))).toBe(false);
  });
});

describe('hook order', () => {
  test('prestart -> createRuntime -> createContainer at create; startContainer -> program at start', async () => {
    const shared = s.tmpDir('shared');
    const order = path.join(shared, 'order');
    const hostHook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > /dev/null; echo ${name} >> ${order}`] });
    const b = await s.bundle((spec) => {
      sharedDir(spec, shared);
      spec.process.args = ['sh', '-c', 'echo program >> /shared/order; exec sleep 1000'];
      spec.hooks = {
        prestart: [hostHook('prestart')],
        createRuntime: [hostHook('createRuntime')],
        // Runs in the container's mount namespace before pivot_root: the host path is still reachable.
        createContainer: [hostHook('createContainer')],
        // Runs inside: the host path is not there, /shared is.
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null; echo startContainer >> /shared/order'] }],
      };
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    expect(readLines(order)).toEqual(['prestart', 'createRuntime', 'createContainer']);
    expectOk(await s.rt.exec(['start', id]));
    await waitFor(() => readLines(order).includes('program'), 5000, 'the program to run');
    expect(readLines(order)).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'program']);
  });

  test('several hooks of one stage run in the listed order', async () => {
    const dir = s.tmpDir('multi');
    const order = path.join(dir, 'order');
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.hooks = {
        createRuntime: ['a', 'b', 'c'].map((n) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > /dev/null; echo ${n} >> ${order}`] })),
      };
    });
    expectOk(await s.runFg(b, s.id()));
    expect(readLines(order)).toEqual(['a', 'b', 'c']);
  });
});

describe('hook timeout', () => {
  test('a prestart hook that outlives its timeout fails create quickly and leaves nothing', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    // argv0 names the hook after the container, so a survivor would be easy to find (and the leak check sees it).
    const marker = `sleep-hook-${id}`;
    b.update((spec) => {
      spec.hooks = { prestart: [{ path: '/bin/sleep', args: [marker, '30'], timeout: 1 }] };
    });
    const t0 = Date.now();
    const r = await s.create(b, id, [], { timeoutMs: 20_000 });
    const elapsed = Date.now() - t0;
    expect(r.timedOut, describeResult(r)).toBe(false);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(elapsed, describeResult(r)).toBeLessThan(8000);
    // runc: "hook ran past specified timeout of 1.0s".
    expect(r.stderr, describeResult(r)).toMatch(/timeout|timed out/i);
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect((await s.rt.list()).map((c) => c.id)).not.toContain(id);
    expect(fs.existsSync(path.join(s.rt.root, id))).toBe(false);
    expect(findPrefixedCgroups(id)).toEqual([]);
    await waitFor(() => processesWith(marker).length === 0, 5000, 'the timed-out hook to be gone');
  });

  test('a hook that finishes within its timeout is fine', async () => {
    const dir = s.tmpDir('timeout');
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `cat > /dev/null; touch ${dir}/ran`], timeout: 5 }] };
    });
    expectOk(await s.runFg(b, s.id()));
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(true);
  });
});

describe('hook env and args', () => {
  test('a runtime-namespace hook gets exactly its args (args[0] is argv0) and exactly its env', async () => {
    const dir = s.tmpDir('argv');
    const env = ['HOOK_A=1', 'HOOK_B=two words', 'HOOK_EMPTY='];
    // Node (the one running this test) as the hook: it reads its stdin to the end, then copies its own
    // /proc/self files, i.e. what the kernel got at execve, no shell in between.
    const code = [
      "const fs = require('fs');",
      'fs.readFileSync(0);',
      `fs.writeFileSync(${JSON.stringify(path.join(dir, 'cmdline'))}, fs.readFileSync('/proc/self/cmdline'));`,
      `fs.writeFileSync(${JSON.stringify(path.join(dir, 'environ'))}, fs.readFileSync('/proc/self/environ'));`,
    ].join(' ');
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.hooks = { createRuntime: [{ path: process.execPath, args: ['tslabtest-argv0', '-e', code], env }] };
    });
    expectOk(await s.runFg(b, s.id(), [], { env: { TSLAB_LEAK_PROBE: 'runtime-env', NODE_LEAK_PROBE: 'runtime-env' } }));
    expect(readNulList(path.join(dir, 'cmdline'))).toEqual(['tslabtest-argv0', '-e', code]);
    expect(readNulList(path.join(dir, 'environ'))).toEqual(env);
  });

  test('a startContainer hook gets its args and env inside the container', async () => {
    const shared = s.tmpDir('shared');
    const env = ['HOOK_IN=inside', 'PATH=/bin', 'HOOK_EMPTY='];
    const script = 'cat > /shared/state.json; cat /proc/$$/cmdline > /shared/cmdline; env > /shared/env.tmp; mv /shared/env.tmp /shared/env';
    const b = await s.bundle((spec) => {
      sharedDir(spec, shared);
      spec.process.args = ['sleep', '1000'];
      spec.process.env = ['PATH=/bin', 'PROGRAM_ONLY=1'];
      // busybox picks its applet by argv0: the hook only runs a shell if args[0] "sh" is its argv0.
      spec.hooks = { startContainer: [{ path: '/bin/busybox', args: ['sh', '-c', script, 'tslabtest-arg0'], env }] };
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    expectOk(await s.rt.exec(['start', id]));
    await waitFor(() => fs.existsSync(path.join(shared, 'env')), 5000, 'the startContainer hook');
    expect(readNulList(path.join(shared, 'cmdline'))).toEqual(['sh', '-c', script, 'tslabtest-arg0']);
    // The hook's env, plus what the shell itself exports (PWD, SHLVL); nothing of the program's or the runtime's.
    const seen = readLines(path.join(shared, 'env')).filter((l) => !/^(PWD|OLDPWD|SHLVL|_)=/.test(l));
    expect(seen.sort()).toEqual([...env].sort());
  });
});

describe('hook stdin', () => {
  test('hooks that exit without reading the state on their stdin do not fail', async () => {
    // runc (Go's os/exec) ignores EPIPE on a hook's stdin once the hook exited 0. A hook that exits before
    // the runtime wrote the state is a race, so many quick hooks make it near-certain to show.
    const quick = (n: number) => Array.from({ length: n }, () => ({ path: '/bin/true', args: ['true'] }));
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.hooks = { createRuntime: quick(40), createContainer: quick(40), startContainer: quick(40), poststop: quick(10) };
    });
    for (let i = 0; i < 2; i++) {
      const r = await s.runFg(b, s.id());
      expectOk(r);
      expect(r.stderr, describeResult(r)).not.toMatch(/hook/i);
    }
  });
});

describe('poststop', () => {
  /** A fixed, absolute cgroupsPath, so a hook written before create can look for the cgroup. */
  function freezerDir(cgroupsPath: string): string {
    const mp = cgroupMount('freezer') ?? cgroupMount('unified');
    if (!mp) throw new Error('no freezer (v1) or unified (v2) cgroup hierarchy');
    return path.join(mp, cgroupsPath);
  }

  test('runs at delete, after the container\'s state and cgroup are gone', async () => {
    const dir = s.tmpDir('poststop');
    const id = s.id();
    const cgroupsPath = `/${id}-cg`;
    const cgroup = freezerDir(cgroupsPath);
    const stateDir = path.join(s.rt.root, id);
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.linux.cgroupsPath = cgroupsPath;
      spec.hooks = {
        poststop: [
          {
            path: '/bin/sh',
            args: [
              'sh',
              '-c',
              [
                `cat > ${dir}/state.json`,
                `if [ -e ${stateDir} ]; then echo state-present; else echo state-gone; fi >> ${dir}/seen`,
                `if [ -d ${cgroup} ]; then echo cgroup-present; else echo cgroup-gone; fi >> ${dir}/seen`,
              ].join('; '),
            ],
          },
        ],
      };
    });
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
    expect(fs.existsSync(cgroup), cgroup).toBe(true);
    expect(fs.existsSync(stateDir)).toBe(true);
    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    await s.rt.waitForStatus(id, 'stopped');
    // Not before delete.
    expect(fs.existsSync(path.join(dir, 'seen'))).toBe(false);
    expectOk(await s.rt.exec(['delete', id]));
    // Ran once, before delete returned, with the container already deleted.
    expect(readLines(path.join(dir, 'seen'))).toEqual(['state-gone', 'cgroup-gone']);
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as Record<string, unknown>;
    expect(state.id).toBe(id);
    expect(state.status).toBe('stopped');
    expect(state.bundle).toBe(b.dir);
  });

  test('a failing poststop hook is only a warning: delete exits 0 and the container is gone', async () => {
    const dir = s.tmpDir('poststop');
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.hooks = {
        poststop: [{ path: '/bin/sh', args: ['sh', '-c', `cat > /dev/null; touch ${dir}/ran; echo poststop-said-no >&2; exit 3`] }],
      };
    });
    const id = s.id();
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
    const pid = (await s.rt.state(id)).pid;
    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    await s.rt.waitForStatus(id, 'stopped');
    const r = await s.rt.exec(['delete', id]);
    expectOk(r);
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(true);
    // The failure is reported (runc: an error line naming the hook; the exit status stays 0).
    expect(r.stderr, describeResult(r)).toMatch(/hook/i);
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect((await s.rt.list()).map((c) => c.id)).not.toContain(id);
    expect(fs.existsSync(path.join(s.rt.root, id))).toBe(false);
    expect(findPrefixedCgroups(id)).toEqual([]);
    await waitFor(() => !processExists(pid), 5000, 'init gone');
  });

  test('a failing poststop hook of delete --force on a running container is only a warning too', async () => {
    const dir = s.tmpDir('poststop');
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `cat > /dev/null; touch ${dir}/ran; exit 3`] }] };
    });
    const id = s.id();
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
    const r = await s.rt.exec(['delete', '--force', id]);
    expectOk(r);
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(true);
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect(findPrefixedCgroups(id)).toEqual([]);
  });
});
