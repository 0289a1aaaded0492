// The `process` fields of config.json, read from the outside through /proc/<pid> of the container's
// process: umask, user (uid, gid, additionalGids), oomScoreAdj, rlimits, capabilities (ambient), the
// exact environment, the open fds and signal dispositions it inherits, and a cwd the image lacks.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type Bundle, type SpecJson } from '../helpers/bundle.js';
import { capMask, capNames, capSets, procStatus, rlimits, waitFor } from '../helpers/kernel.js';
import { describeResult, expectOk, runtimeCommand } from '../helpers/runtime.js';

const s = setupSuite('process');

/** Whether this machine's capability bounding set has CAP_SYS_RESOURCE (ENGINES.md: this VM's lacks it). */
const HOST_HAS_SYS_RESOURCE = (BigInt('0x' + procStatus('self').CapBnd) & capMask(['CAP_SYS_RESOURCE'])) !== 0n;

/** A host directory the container sees (read-write) at /shared; world-writable for non-root users. */
function sharedDir(spec: SpecJson, dir: string): void {
  fs.chmodSync(dir, 0o777);
  spec.mounts.push({ destination: '/shared', type: 'bind', source: dir, options: ['rbind', 'rw'] });
}

/**
 * Waits until `pid` has exec'd the program (every program here is a busybox applet). `start` may return
 * while the runtime's own init code still runs in that pid (runc: `runc init`; tslab: its Node stage),
 * whose /proc files are not the program's yet.
 */
async function waitForProgram(pid: number): Promise<void> {
  await waitFor(
    () => {
      try {
        return fs.readlinkSync(`/proc/${pid}/exe`) === '/bin/busybox';
      } catch {
        return false;
      }
    },
    5000,
    `pid ${pid} to exec the program`,
  );
}

/** create + start, as engines do; returns the host pid of the container's process, once it runs the program. */
async function startContainer(
  mutate: (spec: SpecJson) => void,
  env?: Record<string, string>,
): Promise<{ id: string; pid: number; bundle: Bundle }> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sleep', '1000'];
    mutate(spec);
  });
  const id = s.id();
  expectOk(await s.create(b, id, [], { env }));
  expectOk(await s.rt.exec(['start', id]));
  const st = await s.rt.state(id);
  expect(st.status).toBe('running');
  await waitForProgram(st.pid);
  return { id, pid: st.pid, bundle: b };
}

/** /proc/<pid>/environ as a list. */
function environ(pid: number): string[] {
  const text = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  return text.split('\0').filter((e, i, all) => !(e === '' && i === all.length - 1));
}

describe('user', () => {
  test('umask 0o077: files made inside are 600, directories 700', async () => {
    const shared = s.tmpDir('shared');
    const { pid } = await startContainer((spec) => {
      sharedDir(spec, shared);
      spec.process.user.umask = 0o077;
      spec.process.args = ['sh', '-c', 'touch /shared/file; mkdir /shared/dir.tmp; mv /shared/dir.tmp /shared/dir; exec sleep 1000'];
    });
    await waitFor(() => fs.existsSync(path.join(shared, 'dir')), 5000, 'the program to make its files');
    expect(procStatus(pid).Umask).toBe('0077');
    expect((fs.statSync(path.join(shared, 'file')).mode & 0o777).toString(8)).toBe('600');
    expect((fs.statSync(path.join(shared, 'dir')).mode & 0o777).toString(8)).toBe('700');
  });

  test('without umask the process gets 0022', async () => {
    const { pid } = await startContainer((spec) => {
      delete spec.process.user.umask;
    });
    expect(procStatus(pid).Umask).toBe('0022');
  });

  test('non-zero uid and gid, and additionalGids as the supplementary groups', async () => {
    const { pid } = await startContainer((spec) => {
      spec.process.user = { uid: 1000, gid: 1001, additionalGids: [20, 10, 1001] };
    });
    const st = procStatus(pid);
    expect(st.Uid).toBe('1000 1000 1000 1000');
    expect(st.Gid).toBe('1001 1001 1001 1001');
    expect(st.Groups.split(' ').filter(Boolean).map(Number).sort((a, b) => a - b)).toEqual([10, 20, 1001]);
  });
});

describe('oomScoreAdj and rlimits', () => {
  test('oomScoreAdj 500 is the process\'s oom_score_adj', async () => {
    const { pid } = await startContainer((spec) => {
      spec.process.oomScoreAdj = 500;
    });
    expect(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()).toBe('500');
  });

  test('a negative oomScoreAdj: applied with CAP_SYS_RESOURCE, else create fails naming oom_score_adj', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.process.oomScoreAdj = -300;
    });
    const id = s.id();
    const r = await s.create(b, id);
    if (HOST_HAS_SYS_RESOURCE) {
      expectOk(r);
      expectOk(await s.rt.exec(['start', id]));
      const { pid } = await s.rt.state(id);
      await waitForProgram(pid);
      expect(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()).toBe('-300');
      return;
    }
    // Lowering oom_score_adj needs CAP_SYS_RESOURCE, which this machine's bounding set lacks.
    // runc: "nsexec[...]: failed to update /proc/self/oom_score_adj: Permission denied".
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.timedOut, describeResult(r)).toBe(false);
    expect(r.stderr, describeResult(r)).toMatch(/oom_score_adj/);
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
  });

  test('an rlimit above what the runtime may raise to fails create, naming the rlimit', async () => {
    const hard = rlimits(process.pid).RLIMIT_NOFILE.hard;
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1048576 }];
    });
    const id = s.id();
    const r = await s.create(b, id);
    if (HOST_HAS_SYS_RESOURCE || hard === 'unlimited' || Number(hard) >= 1048576) {
      expectOk(r);
      return;
    }
    // runc: "error setting rlimit type 7: operation not permitted" (7 is RLIMIT_NOFILE).
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.timedOut, describeResult(r)).toBe(false);
    expect(r.stderr, describeResult(r)).toMatch(/rlimit/i);
    expect(r.stderr, describeResult(r)).toMatch(/NOFILE|type 7/);
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
  });

  test('NOFILE, NPROC and CORE with soft != hard', async () => {
    const { pid } = await startContainer((spec) => {
      spec.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 100, hard: 200 },
        { type: 'RLIMIT_NPROC', soft: 111, hard: 222 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 4096 },
      ];
    });
    const l = rlimits(pid);
    expect(l.RLIMIT_NOFILE).toEqual({ soft: '100', hard: '200' });
    expect(l.RLIMIT_NPROC).toEqual({ soft: '111', hard: '222' });
    expect(l.RLIMIT_CORE).toEqual({ soft: '0', hard: '4096' });
  });
});

describe('capabilities', () => {
  const BASE = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const AMBIENT = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];

  test('root: ambient capabilities that are also inheritable show in CapAmb', async () => {
    const { pid } = await startContainer((spec) => {
      spec.process.capabilities = { bounding: BASE, permitted: BASE, effective: BASE, inheritable: AMBIENT, ambient: AMBIENT };
    });
    const caps = capSets(pid);
    expect(capNames(caps.amb)).toEqual(capNames(capMask(AMBIENT)));
    expect(capNames(caps.inh)).toEqual(capNames(capMask(AMBIENT)));
    expect(capNames(caps.bnd)).toEqual(capNames(capMask(BASE)));
    expect(capNames(caps.eff)).toEqual(capNames(capMask(BASE)));
  });

  test('non-root: what survives execve is the ambient set (CapEff = CapPrm = CapAmb)', async () => {
    const { pid } = await startContainer((spec) => {
      spec.process.user = { uid: 1000, gid: 1000 };
      spec.process.capabilities = { bounding: BASE, permitted: BASE, effective: BASE, inheritable: AMBIENT, ambient: AMBIENT };
    });
    const caps = capSets(pid);
    expect(capNames(caps.eff)).toEqual(capNames(capMask(AMBIENT)));
    expect(capNames(caps.prm)).toEqual(capNames(capMask(AMBIENT)));
    expect(capNames(caps.amb)).toEqual(capNames(capMask(AMBIENT)));
    expect(capNames(caps.inh)).toEqual(capNames(capMask(AMBIENT)));
    expect(capNames(caps.bnd)).toEqual(capNames(capMask(BASE)));
  });

  test('non-root without ambient capabilities has none effective after execve', async () => {
    const { pid } = await startContainer((spec) => {
      spec.process.user = { uid: 1000, gid: 1000 };
      spec.process.capabilities = { bounding: BASE, permitted: BASE, effective: BASE };
    });
    const caps = capSets(pid);
    expect(caps.eff).toBe(0n);
    expect(caps.prm).toBe(0n);
    expect(caps.amb).toBe(0n);
    expect(capNames(caps.bnd)).toEqual(capNames(capMask(BASE)));
  });

  test('ambient capabilities that are not inheritable are left out, not an error (as runc\'s own spec has them)', async () => {
    const { pid } = await startContainer((spec) => {
      spec.process.capabilities = { bounding: BASE, permitted: BASE, effective: BASE, ambient: AMBIENT };
    });
    const caps = capSets(pid);
    expect(caps.amb).toBe(0n);
    expect(caps.inh).toBe(0n);
    expect(capNames(caps.eff)).toEqual(capNames(capMask(BASE)));
  });
});

describe('environment', () => {
  test('env is exactly the configured list: nothing from the runtime\'s own environment', async () => {
    const env = ['PATH=/bin:/usr/bin', 'HOME=/home/tslab', 'TSLAB_VAR=hello world', 'EMPTY=', 'TERM=xterm'];
    const { pid } = await startContainer(
      (spec) => {
        spec.process.env = env;
      },
      // What a caller's environment may hold (conmon leaks _OCI_*; tslab-runtime is a Node program).
      { TSLAB_LEAK_PROBE: 'leaked', NODE_LEAK_PROBE: 'leaked', XDG_RUNTIME_DIR: '' },
    );
    expect(environ(pid)).toEqual(env);
  });

  test('HOME is set from the image\'s /etc/passwd when env has none (runc: "/" for an unknown uid)', async () => {
    const root = await startContainer((spec) => {
      spec.process.env = ['PATH=/bin:/usr/bin'];
    });
    expect(environ(root.pid)).toEqual(['PATH=/bin:/usr/bin', 'HOME=/root']);
    const unknown = await startContainer((spec) => {
      spec.process.env = ['PATH=/bin:/usr/bin'];
      spec.process.user = { uid: 4242, gid: 4242 };
    });
    expect(environ(unknown.pid)).toEqual(['PATH=/bin:/usr/bin', 'HOME=/']);
  });
});

describe('what the process inherits', () => {
  test('only fds 0, 1 and 2 are open (create + start)', async () => {
    const { pid } = await startContainer(() => {});
    const fds = fs.readdirSync(`/proc/${pid}/fd`).sort();
    const detail = fds.map((fd) => `${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`).join('\n');
    expect(fds, detail).toEqual(['0', '1', '2']);
  });

  test('only fds 0, 1 and 2 are open (run --detach)', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
    const { pid } = await s.rt.state(id);
    await waitForProgram(pid);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).sort();
    const detail = fds.map((fd) => `${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`).join('\n');
    expect(fds, detail).toEqual(['0', '1', '2']);
  });

  test('signal dispositions are the defaults, even when the caller ignored some', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    // The runtime is started from a shell that ignores several signals (SIG_IGN survives execve).
    const { file, prefix } = runtimeCommand();
    const out = path.join(s.tmpDir('out'), 'create.out');
    const fd = fs.openSync(out, 'w');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        '/bin/sh',
        ['-c', 'trap "" HUP INT QUIT USR1 USR2 PIPE ALRM TERM; exec "$@"', 'sh', file, ...prefix, '--root', s.rt.root, 'create', '--bundle', b.dir, id],
        { stdio: ['ignore', fd, fd] },
      );
      child.on('exit', (c) => resolve(c));
      child.on('error', () => resolve(null));
    });
    fs.closeSync(fd);
    expect(code, fs.readFileSync(out, 'utf8')).toBe(0);
    expectOk(await s.rt.exec(['start', id]));
    const { pid } = await s.rt.state(id);
    await waitForProgram(pid);
    const st = procStatus(pid);
    expect(st.SigIgn).toBe('0000000000000000');
    expect(st.SigBlk).toBe('0000000000000000');
    expect(st.SigCgt).toBe('0000000000000000');
  });
});

describe('cwd', () => {
  // runc creates a missing cwd (MkdirAll, 0755, as root) while it prepares the rootfs, before the root
  // is made read-only; the process then starts in it.
  test('a cwd missing from the image is created, even with a read-only root', async () => {
    const { pid, bundle } = await startContainer((spec) => {
      expect(spec.root.readonly).toBe(true);
      spec.process.cwd = '/no/such/dir';
    });
    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/no/such/dir');
    const made = fs.statSync(path.join(bundle.rootfs, 'no/such/dir'));
    expect(made.isDirectory()).toBe(true);
    expect((made.mode & 0o777).toString(8)).toBe('755');
  });

  test('a cwd missing from the image is created (writable root, non-root user): owned by root, 0755', async () => {
    const { pid, bundle } = await startContainer((spec) => {
      spec.root.readonly = false;
      spec.process.user = { uid: 1000, gid: 1000 };
      spec.process.cwd = '/no/such/dir';
    });
    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/no/such/dir');
    const made = fs.statSync(path.join(bundle.rootfs, 'no/such/dir'));
    expect(made.isDirectory()).toBe(true);
    expect((made.mode & 0o777).toString(8)).toBe('755');
    expect(made.uid).toBe(0);
  });
});
