// A user namespace with uid/gid mappings (runtime-spec config-linux.md): root inside, the mapped ids
// outside, files made by the container owned by the mapped ids on the host, no power over the host's own
// files or devices, the process tree, pid file, kill, delete and exit status as without one, and the
// checks runc makes on the mappings.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type Bundle, type SpecJson } from '../helpers/bundle.js';
import { nsInodes, procStatus } from '../helpers/kernel.js';
import { KNOWN_DIFFERENCES, REPO_ROOT, expectFail, expectOk, runtimeCommand, sleep } from '../helpers/runtime.js';

const s = setupSuite('userns');

/** The host id the container's 0 is mapped to (any unused range does; this one is not a real user here). */
const HOST_ID = 231072;
const SIZE = 65536;
const MAPPING = [{ containerID: 0, hostID: HOST_ID, size: SIZE }];

function withUserNamespace(spec: SpecJson): void {
  spec.linux.namespaces.push({ type: 'user' });
  spec.linux.uidMappings = MAPPING;
  spec.linux.gidMappings = MAPPING;
}

/** A bundle whose container has a user namespace; its rootfs copy given to the mapped root when `writable`. */
async function userBundle(args: string[], opts: { writable?: boolean; mutate?: (spec: SpecJson) => void } = {}): Promise<Bundle> {
  const b = await s.bundle((spec) => {
    spec.process.args = args;
    withUserNamespace(spec);
    if (opts.writable) spec.root.readonly = false;
    opts.mutate?.(spec);
  });
  // runc does not chown the rootfs: the mapped root must be able to use it, as an engine would arrange. Not the
  // symlinks: they are hard links the run's bundles share (test/helpers/rootfs-copy.ts), and no access checks
  // a symlink's owner here.
  if (opts.writable) execFileSync('find', [b.rootfs, '!', '-type', 'l', '-exec', 'chown', `${HOST_ID}:${HOST_ID}`, '{}', '+']);
  return b;
}

/** Starts a detached container with a user namespace; returns its id and host pid. */
async function runSleeper(mutate?: (spec: SpecJson) => void): Promise<{ id: string; pid: number }> {
  const b = await userBundle(['sleep', '1000'], { mutate });
  const id = s.id();
  expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
  const st = await s.rt.state(id);
  expect(st.status).toBe('running');
  return { id, pid: st.pid };
}

/** A /proc/<pid>/uid_map or gid_map as lines of three numbers. */
function idMap(pid: number | 'self', file: 'uid_map' | 'gid_map'): string[] {
  return fs
    .readFileSync(`/proc/${pid}/${file}`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).join(' '));
}

/** Host pids of every process in the user namespace `userNs` (as /proc/<pid>/ns/user reads). */
function processesIn(userNs: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/user`) === userNs) found.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** Waits (up to 2 s: a killed init is reaped by whoever adopted it) until no process is left in `userNs`. */
async function processesLeftIn(userNs: string): Promise<number[]> {
  for (let i = 0; i < 100 && processesIn(userNs).length > 0; i++) await sleep(20);
  return processesIn(userNs);
}

/** The container's cgroup of `controller` (v1), or its unified cgroup (v2), and the pids in it. */
function cgroupProcs(pid: number, controller = 'pids'): { dir: string; pids: number[] } {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.find((l) => l.split(':')[1].split(',').includes(controller));
  const [, controllers, rel] = (v1 ?? lines.find((l) => l.startsWith('0::'))!).split(':');
  const dir = v1 ? path.join('/sys/fs/cgroup', controllers, rel) : path.join('/sys/fs/cgroup', rel);
  const pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean).map(Number);
  return { dir, pids };
}

const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_SYS_ADMIN', 'CAP_SETUID', 'CAP_SETGID', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

describe('identity', () => {
  test('the init is root inside and the mapped ids outside, in a user namespace of its own', async () => {
    const { pid } = await runSleeper();
    expect(procStatus(pid).Uid).toBe(`${HOST_ID} ${HOST_ID} ${HOST_ID} ${HOST_ID}`);
    expect(procStatus(pid).Gid).toBe(`${HOST_ID} ${HOST_ID} ${HOST_ID} ${HOST_ID}`);
    expect(idMap(pid, 'uid_map')).toEqual([`0 ${HOST_ID} ${SIZE}`]);
    expect(idMap(pid, 'gid_map')).toEqual([`0 ${HOST_ID} ${SIZE}`]);
    const host = nsInodes('self');
    const inside = nsInodes(pid);
    for (const ns of ['user', 'pid', 'mnt', 'uts', 'ipc', 'net'] as const) expect(inside[ns], ns).not.toBe(host[ns]);
  });

  test('inside, the process sees itself as uid and gid 0 and the mapping from its side', async () => {
    const b = await userBundle(['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map']);
    const r = await s.runFg(b, s.id());
    expectOk(r);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines).toEqual(['0', '0', `0 ${HOST_ID} ${SIZE}`, `0 ${HOST_ID} ${SIZE}`]);
  });

  test('a non-root process.user is mapped too', async () => {
    const b = await userBundle(['sh', '-c', 'id -u; id -g'], {
      mutate: (spec) => {
        spec.process.user = { uid: 1000, gid: 1001 };
      },
    });
    const r = await s.runFg(b, s.id());
    expectOk(r);
    expect(r.stdout.trim().split('\n')).toEqual(['1000', '1001']);
  });

  test('files the container makes belong to the mapped ids on the host', async () => {
    const b = await userBundle(['sh', '-c', 'echo hi > /made && mkdir /made-dir && chown 1000:1000 /made-dir'], {
      writable: true,
      mutate: (spec) => {
        for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set] = CAPS;
      },
    });
    expectOk(await s.runFg(b, s.id()));
    const file = fs.statSync(path.join(b.rootfs, 'made'));
    expect([file.uid, file.gid]).toEqual([HOST_ID, HOST_ID]);
    const dir = fs.statSync(path.join(b.rootfs, 'made-dir'));
    expect([dir.uid, dir.gid]).toEqual([HOST_ID + 1000, HOST_ID + 1000]);
  });
});

describe('no power over the host', () => {
  test('root inside, with every capability it asks for, cannot read or write the host root\'s files or make devices; its hostname is its own', async () => {
    const hostDir = s.tmpDir('hostfiles');
    fs.chmodSync(hostDir, 0o755);
    fs.writeFileSync(path.join(hostDir, 'secret'), 'secret\n', { mode: 0o600 });
    fs.writeFileSync(path.join(hostDir, 'shared'), 'unchanged\n', { mode: 0o644 });
    const hostname = os.hostname();
    const script = [
      'cat /host/secret && echo READ-SECRET',
      'echo changed > /host/shared && echo WROTE-SHARED',
      'mknod /dev-null-copy c 1 3 && echo MADE-DEVICE',
      'hostname inside-userns && echo HOSTNAME=$(hostname)',
      'touch /ok && echo ROOTFS-WRITABLE',
    ].join('; ');
    const b = await userBundle(['sh', '-c', script], {
      writable: true,
      mutate: (spec) => {
        for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set] = CAPS;
        spec.mounts.push({ destination: '/host', type: 'bind', source: hostDir, options: ['rbind', 'rw'] });
      },
    });
    const r = await s.runFg(b, s.id());
    expectOk(r);
    // The same capabilities do work on what the namespace owns: its rootfs copy and its UTS namespace.
    expect(r.stdout).toContain('ROOTFS-WRITABLE');
    expect(r.stdout).toContain('HOSTNAME=inside-userns');
    expect(r.stdout).not.toContain('READ-SECRET');
    expect(r.stdout).not.toContain('WROTE-SHARED');
    expect(r.stdout).not.toContain('MADE-DEVICE');
    expect(fs.readFileSync(path.join(hostDir, 'shared'), 'utf8')).toBe('unchanged\n');
    expect(os.hostname()).toBe(hostname);
  });
});

describe('lifecycle', () => {
  test('a terminal container: the init takes the pty as its controlling terminal', async () => {
    const b = await userBundle(['sh', '-c', 'tty && id -u'], {
      mutate: (spec) => {
        spec.process.terminal = true;
      },
    });
    // A foreground run on a terminal of its own (util-linux script gives it one), which it relays.
    const { file, prefix } = runtimeCommand();
    const command = [file, ...prefix, '--root', s.rt.root, 'run', '--bundle', b.dir, s.id()].join(' ');
    const out = execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
    expect(out.replace(/\r/g, '').split('\n').map((l) => l.replace(/^(\^@|\0)+/, '').trim()).filter(Boolean)).toEqual(['/dev/pts/0', '0']);
  });

  test('create: the pid file names the init, whose parent is outside the container and which is alone in its cgroup; kill and delete leave nothing', async () => {
    const b = await userBundle(['sleep', '1000']);
    const id = s.id();
    const pidFile = path.join(s.tmpDir('pidfile'), 'pid');
    expectOk(await s.create(b, id, ['--pid-file', pidFile]));
    const created = await s.rt.state(id);
    expect(created.status).toBe('created');
    expect(Number(fs.readFileSync(pidFile, 'utf8'))).toBe(created.pid);
    const pid = created.pid;
    expect(procStatus(pid).NSpid.split(' ').at(-1)).toBe('1');
    const userNs = nsInodes(pid).user;
    // The init's parent is no helper left in the container's user namespace (it would show the mapped uid):
    // the init is adopted by a subreaper or init, which then sees its exit.
    const ppid = Number(procStatus(pid).PPid);
    expect(procStatus(ppid).Uid.split(' ')[0]).toBe('0');
    expectOk(await s.rt.exec(['start', id]));
    await s.rt.waitForStatus(id, 'running');
    const cgroup = cgroupProcs(pid);
    expect(cgroup.pids).toEqual([pid]);
    expect(processesIn(userNs)).toEqual([pid]);
    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    await s.rt.waitForStatus(id, 'stopped');
    expectOk(await s.rt.exec(['delete', id]));
    expect(await s.rt.stateOrNull(id)).toBeNull();
    expect(await processesLeftIn(userNs)).toEqual([]);
    expect(fs.existsSync(cgroup.dir)).toBe(false);
  });

  test('with cpu, memory and pids limits the init runs in its cgroups, alone there, under the limits', async () => {
    const { pid } = await runSleeper((spec) => {
      spec.linux.resources = { cpu: { quota: 50000, period: 100000 }, memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } };
    });
    const v2 = !fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(':pids:');
    for (const controller of ['cpu', 'memory', 'pids']) expect(cgroupProcs(pid, controller).pids, controller).toEqual([pid]);
    const read = (controller: string, v1File: string, v2File: string) =>
      fs.readFileSync(path.join(cgroupProcs(pid, controller).dir, v2 ? v2File : v1File), 'utf8').trim();
    expect(read('cpu', 'cpu.cfs_quota_us', 'cpu.max')).toBe(v2 ? '50000 100000' : '50000');
    expect(read('memory', 'memory.limit_in_bytes', 'memory.max')).toBe(String(64 * 1024 * 1024));
    expect(read('pids', 'pids.max', 'pids.max')).toBe('50');
  });

  test('delete --force ends a running container and everything in its user namespace', async () => {
    const { id, pid } = await runSleeper();
    const userNs = nsInodes(pid).user;
    expectOk(await s.rt.exec(['delete', '--force', id]));
    expect(await s.rt.stateOrNull(id)).toBeNull();
    expect(await processesLeftIn(userNs)).toEqual([]);
  });

  test('a foreground run returns the container\'s exit status, and 137 when it is killed', async () => {
    const exits = await userBundle(['sh', '-c', 'exit 7']);
    expect((await s.runFg(exits, s.id())).code).toBe(7);
    const sleeps = await userBundle(['sleep', '1000']);
    const id = s.id();
    const run = s.rt.spawn(['run', '--bundle', sleeps.dir, id]);
    await s.rt.waitForStatus(id, 'running');
    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    const r = await run.result;
    expect(r.code).toBe(137);
  });
});

/** A user namespace held by a process of ours (killed after the test), mapped as MAPPING; returns its path. */
async function heldUserNamespace(): Promise<string> {
  const holder = spawn('unshare', ['--user', 'sleep', '1000'], { stdio: 'ignore' });
  s.defer(() => {
    holder.kill('SIGKILL');
  });
  const own = nsInodes('self').user;
  const file = `/proc/${holder.pid}/ns/user`;
  for (let i = 0; i < 250 && fs.readlinkSync(file) === own; i++) await sleep(20);
  expect(fs.readlinkSync(file)).not.toBe(own);
  fs.writeFileSync(`/proc/${holder.pid}/uid_map`, `0 ${HOST_ID} ${SIZE}\n`);
  fs.writeFileSync(`/proc/${holder.pid}/gid_map`, `0 ${HOST_ID} ${SIZE}\n`);
  return file;
}

describe('a user namespace joined by path', () => {
  test('the container joins it (its mappings given again) and is root there', async () => {
    const userNs = await heldUserNamespace();
    const { pid } = await runSleeper((spec) => {
      spec.linux.namespaces = spec.linux.namespaces.map((ns: { type: string }) => (ns.type === 'user' ? { type: 'user', path: userNs } : ns));
    });
    expect(nsInodes(pid).user).toBe(fs.readlinkSync(userNs));
    expect(procStatus(pid).Uid).toBe(`${HOST_ID} ${HOST_ID} ${HOST_ID} ${HOST_ID}`);
    // The namespaces made for the container belong to the joined one: its root may set the hostname.
    expect(nsInodes(pid).uts).not.toBe(nsInodes('self').uts);
  });

  test('without mappings in the config', async () => {
    const userNs = await heldUserNamespace();
    const b = await userBundle(['sh', '-c', 'id -u; cat /proc/self/uid_map'], {
      mutate: (spec) => {
        spec.linux.namespaces = spec.linux.namespaces.map((ns: { type: string }) => (ns.type === 'user' ? { type: 'user', path: userNs } : ns));
        delete spec.linux.uidMappings;
        delete spec.linux.gidMappings;
      },
    });
    const r = await s.runFg(b, s.id());
    if (KNOWN_DIFFERENCES.joinedUserNamespaceNeedsMappings) {
      expectFail(r);
      expect(r.stderr).toMatch(/no uid mappings found/);
    } else {
      expectOk(r);
      expect(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0', `0 ${HOST_ID} ${SIZE}`]);
    }
  });

  test('with mappings unlike its own', async () => {
    const userNs = await heldUserNamespace();
    const b = await userBundle(['true'], {
      mutate: (spec) => {
        spec.linux.namespaces = spec.linux.namespaces.map((ns: { type: string }) => (ns.type === 'user' ? { type: 'user', path: userNs } : ns));
        spec.linux.uidMappings = [{ containerID: 0, hostID: HOST_ID + SIZE, size: SIZE }];
      },
    });
    const id = s.id();
    const r = await s.runFg(b, id);
    if (KNOWN_DIFFERENCES.ignoresMappingsOfJoinedUserNamespace) {
      expectOk(r);
    } else {
      expectFail(r);
      expect(r.stderr).toMatch(/linux\.uidMappings .* differs from the uid_map of the user namespace joined by path/);
      expect(await s.rt.stateOrNull(id)).toBeNull();
    }
  });
});

/** The lines of an exec's output, spaces in each evened out. */
function outputLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/).join(' '))
    .filter(Boolean);
}

describe('exec into a container with a user namespace', () => {
  test('the process is root inside, sees the mapping from its side, and its exit status passes through', async () => {
    const { id } = await runSleeper();
    const r = await s.rt.exec(['exec', id, 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; exit 7']);
    expect(r.code, r.stderr).toBe(7);
    expect(outputLines(r.stdout)).toEqual(['0', '0', `0 ${HOST_ID} ${SIZE}`, `0 ${HOST_ID} ${SIZE}`]);
  });

  test('--detach --pid-file: the process joins every namespace and the cgroup of the init, as the mapped root', async () => {
    const { id, pid } = await runSleeper();
    const pidFile = path.join(s.tmpDir('exec-pid'), 'exec.pid');
    expectOk(await s.rt.exec(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30']));
    const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
    s.defer(() => {
      try {
        process.kill(execPid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    });
    // --detach may return between the stage's execve and the kernel's update of /proc/<pid>/exe.
    for (let i = 0; i < 100 && fs.readlinkSync(`/proc/${execPid}/exe`) !== '/bin/busybox'; i++) await sleep(20);
    expect(fs.readlinkSync(`/proc/${execPid}/exe`)).toBe('/bin/busybox');
    const inside = nsInodes(execPid);
    const init = nsInodes(pid);
    for (const ns of ['user', 'pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup'] as const) expect(inside[ns], ns).toBe(init[ns]);
    expect(procStatus(execPid).Uid).toBe(`${HOST_ID} ${HOST_ID} ${HOST_ID} ${HOST_ID}`);
    expect(fs.readFileSync(`/proc/${execPid}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    expect(Number(procStatus(execPid).NSpid.split(/\s+/).at(-1))).toBeGreaterThan(1);
    process.kill(execPid, 'SIGKILL');
    for (let i = 0; i < 250 && fs.existsSync(`/proc/${execPid}`); i++) await sleep(20);
    expect(fs.existsSync(`/proc/${execPid}`)).toBe(false);
  });

  test('--user, --env and --cwd: a non-root user of the container, mapped on the host', async () => {
    const { id } = await runSleeper();
    const r = await s.rt.exec(['exec', '--user', '1000:1001', '--env', 'FOO=bar', '--cwd', '/tmp', id, 'sh', '-c', 'id -u; id -g; echo $FOO; pwd; grep Uid /proc/self/status']);
    expectOk(r);
    expect(outputLines(r.stdout)).toEqual(['1000', '1001', 'bar', '/tmp', 'Uid: 1000 1000 1000 1000']);
  });

  test('--tty: the process gets a terminal of the container\'s own', async () => {
    const { id } = await runSleeper();
    // A foreground exec on a terminal of its own (util-linux script gives it one), which it relays.
    const { file, prefix } = runtimeCommand();
    const command = [file, ...prefix, '--root', s.rt.root, 'exec', '--tty', id, 'sh', '-c', "'tty; id -u'"].join(' ');
    const out = execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
    const text = outputLines(out.replace(/\r/g, '').replace(/\0|\^@/g, ''));
    expect(text[0]).toMatch(/^\/dev\/pts\/\d+$/);
    expect(text.slice(1)).toEqual(['0']);
  });

  test('into a user namespace joined by path', async () => {
    const userNs = await heldUserNamespace();
    const { id, pid } = await runSleeper((spec) => {
      spec.linux.namespaces = spec.linux.namespaces.map((ns: { type: string }) => (ns.type === 'user' ? { type: 'user', path: userNs } : ns));
    });
    const r = await s.rt.exec(['exec', id, 'sh', '-c', 'id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user']);
    expectOk(r);
    const [uid, map, ns] = outputLines(r.stdout);
    expect([uid, map]).toEqual(['0', `0 ${HOST_ID} ${SIZE}`]);
    expect(ns).toBe(nsInodes(pid).user);
  });
});

/**
 * A copy of the runtime where no other user may pass: a 0700 directory above it, as under /root, a
 * mktemp -d or an nvm install. The container's first process runs as the mapped uid on the host before it
 * loads anything; runc's init re-executes /proc/self/exe, tslab's stage is let in through fds. runc is its
 * binary; tslab is the package's bin, dist and koffi, run by a copy of the node running the tests.
 */
function privateInstall(): { file: string; prefix: string[] } {
  const top = s.tmpDir('private-install');
  fs.chmodSync(top, 0o700);
  if (s.rt.name === 'runc') {
    const runc = path.join(top, 'runc');
    fs.copyFileSync(execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim(), runc);
    fs.chmodSync(runc, 0o755);
    return { file: runc, prefix: [] };
  }
  const pkg = path.join(top, 'tslab');
  for (const part of ['bin', 'dist', 'package.json', 'node_modules/koffi', 'node_modules/@koromix']) {
    fs.cpSync(path.join(REPO_ROOT, part), path.join(pkg, part), { recursive: true, dereference: true });
  }
  const node = path.join(top, 'node');
  fs.copyFileSync(process.execPath, node);
  fs.chmodSync(node, 0o755);
  return { file: node, prefix: [path.join(pkg, 'bin', 'tslab-runtime.cjs')] };
}

describe('installed under a directory no other user may pass (0700)', () => {
  test('run, exec and exec --detach work, and nothing of the host is left open in the container', async () => {
    const command = privateInstall();
    const leadsToInstall = (text: string) => text.includes('private-install');
    const b = await userBundle(['sh', '-c', 'id -u; cat /proc/self/uid_map; ls -l /proc/1/fd']);
    const run = await s.rt.exec(['run', '--bundle', b.dir, s.id()], { command });
    expect(run.code, run.stderr).toBe(0);
    expect(outputLines(run.stdout).slice(0, 2)).toEqual(['0', `0 ${HOST_ID} ${SIZE}`]);
    expect(leadsToInstall(run.stdout), run.stdout).toBe(false);

    const sleeper = await userBundle(['sleep', '1000']);
    const id = s.id();
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', sleeper.dir, id], { command }));
    const exec = await s.rt.exec(['exec', id, 'sh', '-c', 'id -u; ls -l /proc/self/fd'], { command });
    expect(exec.code, exec.stderr).toBe(0);
    expect(outputLines(exec.stdout)[0]).toBe('0');
    expect(leadsToInstall(exec.stdout), exec.stdout).toBe(false);
    const pidFile = path.join(s.tmpDir('private-exec'), 'exec.pid');
    expectOk(await s.rt.exec(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30'], { command }));
    const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 100 && fs.readlinkSync(`/proc/${execPid}/exe`) !== '/bin/busybox'; i++) await sleep(20);
    expect(procStatus(execPid).Uid).toBe(`${HOST_ID} ${HOST_ID} ${HOST_ID} ${HOST_ID}`);
    const held = fs.readdirSync(`/proc/${execPid}/fd`).map((fd) => fs.readlinkSync(`/proc/${execPid}/fd/${fd}`));
    expect(held.filter(leadsToInstall)).toEqual([]);
    process.kill(execPid, 'SIGKILL');
    expectOk(await s.rt.exec(['delete', '--force', id], { command }));
  });
});

describe('refused, as runc refuses them', () => {
  test('mappings without a user namespace', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      spec.linux.uidMappings = MAPPING;
      spec.linux.gidMappings = MAPPING;
    });
    const id = s.id();
    const r = await s.create(b, id);
    if (KNOWN_DIFFERENCES.refusesMappingsWithoutUserNamespace) {
      expectFail(r);
      expect(r.stderr).toMatch(/linux\.uidMappings is set, but the container has no user namespace/);
      expect(await s.rt.stateOrNull(id)).toBeNull();
    } else {
      expectOk(r);
      // runc ignores them: the container's init is the host's root, in the host's user namespace.
      const { pid } = await s.rt.state(id);
      expect(nsInodes(pid).user).toBe(nsInodes('self').user);
      expect(procStatus(pid).Uid.split(' ')[0]).toBe('0');
    }
  });

  const cases: Array<[string, (spec: SpecJson) => void]> = [
    ['a user namespace without uid mappings', (spec) => {
      withUserNamespace(spec);
      delete spec.linux.uidMappings;
    }],
    ['a user namespace without gid mappings', (spec) => {
      withUserNamespace(spec);
      delete spec.linux.gidMappings;
    }],
    ['uid ranges that overlap inside', (spec) => {
      withUserNamespace(spec);
      spec.linux.uidMappings = [{ containerID: 0, hostID: HOST_ID, size: 1000 }, { containerID: 500, hostID: HOST_ID + 5000, size: 1000 }];
    }],
    ['gid ranges that overlap outside', (spec) => {
      withUserNamespace(spec);
      spec.linux.gidMappings = [{ containerID: 0, hostID: HOST_ID, size: 1000 }, { containerID: 5000, hostID: HOST_ID + 500, size: 1000 }];
    }],
    ['a range of size 0', (spec) => {
      withUserNamespace(spec);
      spec.linux.uidMappings = [...MAPPING, { containerID: 100000, hostID: HOST_ID + 100000, size: 0 }];
    }],
    ['a range past the largest id', (spec) => {
      withUserNamespace(spec);
      spec.linux.uidMappings = [{ containerID: 0, hostID: 4294967000, size: SIZE }];
    }],
    ['no mapping for the container\'s root', (spec) => {
      withUserNamespace(spec);
      spec.linux.uidMappings = [{ containerID: 1, hostID: HOST_ID, size: SIZE }];
    }],
  ];
  test.each(cases)('%s', async (_name, mutate) => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      mutate(spec);
    });
    const id = s.id();
    expectFail(await s.create(b, id));
    expect(await s.rt.stateOrNull(id)).toBeNull();
  });
});
