// containerd (Debian's 1.6, runc v2 shim) driving the runtime under test through
// `ctr run --runc-binary <absolute path>`: the shim calls it with `--root --log --log-format json` first.
// containerd is started once for the file on a private socket, root and state (its own config), and
// stopped afterwards; the runtime's state (--runc-root), ctr's FIFOs and the image live in this file's
// temp dir; the namespace (hence each container's cgroup /<ns>/<id>) is named with the run's prefix.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { isMountedUnder, snapshotHost, type HostSnapshot } from '../helpers/leaks.js';
import { runtimeName } from '../helpers/runtime.js';
import {
  busyboxTar,
  entries,
  exits,
  expectNoLeaks,
  fileScope,
  killCgroupProcesses,
  killLeftovers,
  knownFailures,
  ociImageTar,
  ok,
  removeCgroupTree,
  runtimePath,
  sh,
  show,
  startDaemon,
  until,
  type CmdResult,
  type Daemon,
} from './harness.js';

/** Checks that fail on tslab-runtime only, and why (see knownFailures). */
const TSLAB_KNOWN_FAILURES: Record<string, string> = {};

const { check, checkTable } = knownFailures(TSLAB_KNOWN_FAILURES);
const IMAGE = 'localhost/tslab-busybox:engines';
/**
 * `tty`, then a second more: ctr resizes the terminal once the process has started, and when the process is
 * already gone by then ctr logs "cannot resize a stopped container" and its output can be lost (seen with runc).
 */
const TTY_THEN_STAY = ['sh', '-c', 'tty; sleep 1'];
/** Where the containerd 1.6 shims put their sockets, whatever containerd's own state dir is. */
const SHIM_SOCKETS = '/run/containerd/s';

let scope: { prefix: string; dir: string };
let snapshot: HostSnapshot;
let shimSocketsBefore: string[];
let daemon: Daemon | undefined;
let ns: string;
let started = 0;
let counter = 0;

function ctr(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return sh(path.join(scope.dir, 'io'), 'ctr', ctrArgs(args), opts);
}

function ctrArgs(args: string[]): string[] {
  return ['--address', path.join(scope.dir, 'c.sock'), '--namespace', ns, ...args];
}

/** `ctr run` with the runtime under test, its state and ctr's FIFOs in the file's dir. */
function runArgs(flags: string[], id: string, cmd: string[]): string[] {
  return ['run', '--runc-binary', runtimePath(), '--runc-root', path.join(scope.dir, 'runc-root'), '--fifo-dir', path.join(scope.dir, 'fifo'), ...flags, IMAGE, id, ...cmd];
}

function run(flags: string[], id: string, cmd: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return ctr(runArgs(flags, id, cmd), opts);
}

/** A container id of this file. */
function newId(label: string): string {
  return `${scope.prefix}-${++counter}-${label}`;
}

/** Removes a container whatever its state (task killed and deleted, then the container and its snapshot). */
async function removeContainer(id: string): Promise<void> {
  await ctr(['task', 'kill', '-s', 'KILL', id]);
  await ctr(['task', 'delete', '--force', id]);
  // A task the runtime could not end keeps its processes in the container's cgroup (/<ns>/<id>).
  if (killCgroupProcesses(`${ns}/${id}`) > 0) await ctr(['task', 'delete', '--force', id]);
  await ctr(['containers', 'delete', id]);
  // A shim that outlives its deleted task (it waits for ever on the runtime) would leak its rootfs mount.
  let shims = shimPids(id);
  for (let i = 0; i < 30 && shims.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    shims = shimPids(id);
  }
  if (shims.length) {
    forceRemoveShim(id, shims);
    await ctr(['containers', 'delete', id]);
    throw new Error(`containerd could not remove the task ${id}: its shim was killed, its rootfs unmounted`);
  }
}

/**
 * Last resort for a task containerd cannot delete (its shim waits for ever): what the shim would have
 * undone, done here for this one container: the shim killed, the rootfs unmounted, its socket
 * (/run/containerd/s/sha256(address/ns/id)) removed.
 */
function forceRemoveShim(id: string, shims: number[]): void {
  const address = path.join(scope.dir, 'c.sock');
  for (const pid of shims) process.kill(pid, 'SIGKILL');
  const rootfs = path.join(scope.dir, 'state', 'io.containerd.runtime.v2.task', ns, id, 'rootfs');
  if (isMountedUnder(rootfs)) execFileSync('umount', [rootfs]);
  fs.rmSync(path.join(SHIM_SOCKETS, createHash('sha256').update(`${address}/${ns}/${id}`).digest('hex')), { force: true });
}

/** The containerd shim processes of the container `id` (of this file's containerd). */
function shimPids(id: string): number[] {
  const address = path.join(scope.dir, 'c.sock');
  const found: number[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let argv: string[] = [];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.includes('-id') && argv[argv.indexOf('-id') + 1] === id && argv.includes(address)) found.push(Number(pid));
  }
  return found;
}

/** Runs `body` and removes the container `id` afterwards. */
async function withContainer(id: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await removeContainer(id);
  }
}

function dataDir(label: string): string {
  const d = path.join(scope.dir, 'data', `${label}-${++counter}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function bind(src: string, dst: string, ro = false): string[] {
  return ['--mount', `type=bind,src=${src},dst=${dst},options=rbind:${ro ? 'ro' : 'rw'}`];
}

async function taskStatus(id: string): Promise<string> {
  const out = ok(await ctr(['task', 'ls']));
  const line = out.split('\n').find((l) => l.split(/\s+/)[0] === id);
  return line?.split(/\s+/)[2] ?? 'none';
}

function shellQuote(args: string[]): string {
  return args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/** `script` gives ctr a real terminal of ROWSxCOLS (ctr -t copies its size onto the container's). */
function inTerminal(args: string[], rows: number, cols: number): Promise<CmdResult> {
  const line = shellQuote(['ctr', ...ctrArgs(args)]);
  return sh(path.join(scope.dir, 'io'), 'script', ['-qec', `stty rows ${rows} cols ${cols}; ${line}`, '/dev/null'], { holdStdin: true, timeoutMs: 20_000 });
}

beforeAll(async () => {
  started = Date.now();
  scope = fileScope(`containerd-${runtimeName()}`);
  ns = scope.prefix;
  snapshot = snapshotHost();
  shimSocketsBefore = entries(SHIM_SOCKETS);
  const config = path.join(scope.dir, 'containerd.toml');
  const sock = path.join(scope.dir, 'c.sock');
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = "${path.join(scope.dir, 'root')}"`,
      `state = "${path.join(scope.dir, 'state')}"`,
      // Nothing this test does not use (the CRI plugin would want CNI, the others are other filesystems).
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", ' +
        '"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", ' +
        '"io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '',
    ].join('\n'),
  );
  daemon = await startDaemon('containerd', ['--config', config], sock, path.join(scope.dir, 'containerd.log'));
  ok(await ctr(['images', 'import', ociImageTar(scope.dir, busyboxTar(scope.dir), IMAGE)], { timeoutMs: 60_000 }));
});

afterAll(async () => {
  if (!scope) return;
  const errors: string[] = [];
  if (daemon) {
    const left = await ctr(['containers', 'ls', '-q']);
    for (const id of left.stdout.split('\n').filter(Boolean)) await removeContainer(id);
    await ctr(['images', 'rm', IMAGE]);
    await daemon.stop();
  }
  errors.push(...killLeftovers(scope.dir));
  errors.push(...removeCgroupTree(ns));
  const shims = entries(SHIM_SOCKETS).filter((s) => !shimSocketsBefore.includes(s));
  if (shims.length) errors.push(`shim sockets left in ${SHIM_SOCKETS}: ${shims.join(' ')}`);
  try {
    await expectNoLeaks(scope.prefix, scope.dir, snapshot);
  } catch (err) {
    errors.push(String(err));
  }
  if (!isMountedUnder(scope.dir)) fs.rmSync(scope.dir, { recursive: true, force: true });
  else errors.push(`${scope.dir} still has mounts below it; left in place`);
  console.log(`[engines] containerd on ${runtimeName()}: ${Date.now() - started} ms for the file`);
  if (errors.length) throw new Error(errors.join('\n'));
});

describe(`ctr run --runc-binary ${runtimeName()}`, () => {
  check('run --rm: output and exit statuses 0 and 3', async () => {
    const [a, b] = [newId('hi'), newId('three')];
    const [hi, three] = await Promise.all([run(['--rm'], a, ['echo', 'hello from ctr']), run(['--rm'], b, ['sh', '-c', 'exit 3'])]);
    await Promise.all([removeContainer(a), removeContainer(b)]);
    expect(ok(hi)).toBe('hello from ctr\n');
    exits(three, 3);
  });

  check("errors reach containerd through --log JSON (the missing program's name)", async () => {
    const id = newId('missing');
    await withContainer(id, async () => {
      const r = await run(['--rm'], id, ['/no/such/program']);
      expect(r.code, show(r)).not.toBe(0);
      expect(r.stderr, show(r)).toMatch(/OCI runtime create failed: .*\/no\/such\/program/);
    });
  });

  // ctr passes no end of input on to the container: read a known length.
  check('stdin reaches the container', async () => {
    const id = newId('stdin');
    await withContainer(id, async () => {
      expect(ok(await run(['--rm'], id, ['sh', '-c', 'head -c 8; echo " (read)"'], { input: 'piped in' }))).toBe('piped in (read)\n');
    });
  });

  check('--cwd, --env; own PID and network namespaces; --net-host', async () => {
    const [a, b] = [newId('ns'), newId('nethost')];
    try {
      const [own, host] = await Promise.all([
        run(['--rm', '--cwd', '/tmp', '--env', 'GREETING=hi there'], a, ['sh', '-c', `pwd; echo "$GREETING"; echo $$; test -d /proc/${process.pid} && echo sees-host-pids; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '`]),
        run(['--rm', '--net-host'], b, ['sh', '-c', 'readlink /proc/self/ns/net']),
      ]);
      expect(ok(own)).toBe('/tmp\nhi there\n1\nlo\n');
      expect(ok(host).trim()).toBe(fs.readlinkSync('/proc/self/ns/net'));
    } finally {
      await Promise.all([removeContainer(a), removeContainer(b)]);
    }
  });

  check('--read-only: / refuses writes, the /run tmpfs takes them; bind mounts rw and ro', async () => {
    const rw = dataDir('rw');
    const ro = dataDir('ro');
    fs.writeFileSync(path.join(ro, 'in'), 'host file\n');
    const id = newId('ro');
    await withContainer(id, async () => {
      const r = await run(['--rm', '--read-only', ...bind(rw, '/rw'), ...bind(ro, '/ro', true)], id, [
        'sh',
        '-c',
        'touch /newfile 2>/dev/null && echo root-writable; touch /run/x && echo run-writable; echo written > /rw/out; cat /ro/in; echo x > /ro/in 2>/dev/null || echo ro-refused',
      ]);
      expect(ok(r)).toBe('run-writable\nhost file\nro-refused\n');
      expect(fs.readFileSync(path.join(rw, 'out'), 'utf8')).toBe('written\n');
    });
  });

  check('--with-ns network:PATH joins an existing network namespace', async () => {
    const netns = `${scope.prefix}-netns`;
    execFileSync('ip', ['netns', 'add', netns]);
    const id = newId('netns');
    try {
      execFileSync('ip', ['-n', netns, 'link', 'add', 'tslabv0', 'type', 'veth', 'peer', 'name', 'tslabv1']);
      const inode = fs.statSync(`/var/run/netns/${netns}`).ino;
      const r = await run(['--rm', '--with-ns', `network:/var/run/netns/${netns}`], id, ['sh', '-c', "readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"]);
      expect(ok(r)).toBe(`net:[${inode}]\nlo\ntslabv0\ntslabv1\n`);
    } finally {
      await removeContainer(id);
      execFileSync('ip', ['netns', 'delete', netns]);
    }
  });

  check('--memory-limit: the OOM killer ends it, exit 137', async () => {
    const id = newId('oom');
    await withContainer(id, async () => {
      exits(await run(['--rm', '--memory-limit', String(32 << 20)], id, ['tail', '/dev/zero'], { timeoutMs: 60_000 }), 137);
    });
  }, 70_000);

  check('--seccomp: containerd\'s default profile is in force', async () => {
    const id = newId('seccomp');
    await withContainer(id, async () => {
      expect(ok(await run(['--rm', '--seccomp'], id, ['sh', '-c', 'grep ^Seccomp: /proc/self/status']))).toMatch(/^Seccomp:\s+2\n$/);
    });
  });

  check('run -t: a terminal', async () => {
    const id = newId('tty');
    await withContainer(id, async () => {
      // Only the terminal itself: ctr sets its size late, and with runc too this harness sometimes reads none.
      // The program stays a second after `tty` (TTY_THEN_STAY).
      const r = await inTerminal(runArgs(['--rm', '-t'], id, TTY_THEN_STAY), 33, 111);
      expect(ok(r).replace(/\r/g, '')).toMatch(/\/dev\/pts\/\d+\n/);
    });
  });

  check('run -d, task exec (output, exit status, --user, --cwd), exec -t gets a terminal, task ps', async () => {
    const id = newId('exec');
    await withContainer(id, async () => {
      ok(await run(['-d'], id, ['sleep', '1000']));
      const exec = (args: string[]) => ctr(['task', 'exec', '--fifo-dir', path.join(scope.dir, 'fifo'), '--exec-id', `e${++counter}`, ...args]);
      expect(ok(await exec([id, 'sh', '-c', 'echo exec-out; tr "\\0" " " < /proc/1/cmdline']))).toBe('exec-out\nsleep 1000 ');
      exits(await exec([id, 'sh', '-c', 'exit 7']), 7);
      expect(ok(await exec(['--user', '42', '--cwd', '/etc', id, 'sh', '-c', 'id -u; pwd']))).toBe('42\n/etc\n');
      // Only the terminal itself: its size after `exec -t` arrives late or not at all with runc too in this harness.
      const tty = await inTerminal(['task', 'exec', '--fifo-dir', path.join(scope.dir, 'fifo'), '--exec-id', `e${++counter}`, '-t', id, ...TTY_THEN_STAY], 21, 77);
      expect(ok(tty).replace(/\r/g, '')).toMatch(/\/dev\/pts\/\d+\n/);
      const ps = ok(await ctr(['task', 'ps', id]));
      const pids = ps.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((p) => p > 0);
      expect(pids.length, ps).toBe(1);
      expect(fs.readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8')).toBe('sleep\x001000\x00');
    });
  });

  check('pause / resume: the process stops and goes on', async () => {
    const d = dataDir('pause');
    const id = newId('pause');
    await withContainer(id, async () => {
      ok(await run(['-d', ...bind(d, '/data')], id, ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /data/n; sleep 0.05; done']));
      const counter = () => Number(fs.readFileSync(path.join(d, 'n'), 'utf8') || '0');
      await until(() => fs.existsSync(path.join(d, 'n')) && counter() > 0, 'the counter to start');
      ok(await ctr(['task', 'pause', id]));
      expect(await taskStatus(id)).toBe('PAUSED');
      const frozenAt = counter();
      await new Promise((r) => setTimeout(r, 500));
      expect(counter()).toBe(frozenAt);
      ok(await ctr(['task', 'resume', id]));
      await until(() => counter() > frozenAt, 'the counter to go on after resume');
      expect(await taskStatus(id)).toBe('RUNNING');
    });
  });

  check('task kill (SIGTERM) reaches the process; kill -s KILL gives 137', async () => {
    const d = dataDir('kill');
    const [term, killed] = [newId('term'), newId('killed')];
    try {
      // Foreground runs: ctr exits with the task's status.
      const termRun = run(['--rm', ...bind(d, '/data')], term, ['sh', '-c', 'trap "echo got-term > /data/term; exit 0" TERM; touch /data/up; while :; do sleep 0.1; done']);
      const killRun = run(['--rm'], killed, ['sleep', '1000']);
      await until(() => fs.existsSync(path.join(d, 'up')), 'the trapping container to start');
      await until(async () => (await taskStatus(killed)) === 'RUNNING', 'the sleeping container to start');
      ok(await ctr(['task', 'kill', term]));
      ok(await ctr(['task', 'kill', '-s', 'KILL', killed]));
      exits(await termRun, 0);
      expect(fs.readFileSync(path.join(d, 'term'), 'utf8')).toBe('got-term\n');
      exits(await killRun, 137);
    } finally {
      await Promise.all([removeContainer(term), removeContainer(killed)]);
    }
  });

  check('task start again: a container runs a new task after its first one is deleted', async () => {
    const d = dataDir('again');
    const id = newId('again');
    await withContainer(id, async () => {
      ok(await run(['-d', ...bind(d, '/data')], id, ['sh', '-c', 'echo start >> /data/log; sleep 1000']));
      await until(() => fs.existsSync(path.join(d, 'log')), 'the first start');
      ok(await ctr(['task', 'kill', '-s', 'KILL', id]));
      await until(async () => (await taskStatus(id)) === 'STOPPED', 'the first task to stop');
      ok(await ctr(['task', 'delete', id]));
      ok(await ctr(['task', 'start', '-d', '--fifo-dir', path.join(scope.dir, 'fifo'), id]));
      await until(() => fs.readFileSync(path.join(d, 'log'), 'utf8') === 'start\nstart\n', 'the second start');
      expect(await taskStatus(id)).toBe('RUNNING');
    });
  });

  checkTable();
});
