// Docker Engine (Debian's docker.io 20.10) driving the runtime under test: dockerd is started once for the
// file with its own daemon.json (the runtime registered by absolute path, private data-root, exec-root,
// pidfile, socket and containerd namespaces, no bridge, no iptables, cgroupfs, ulimits within the host's
// hard limits), then `docker run --runtime NAME`, with docker's DEFAULT seccomp profile.
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
  hostUlimits,
  killLeftovers,
  knownFailures,
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
const TSLAB_KNOWN_FAILURES: Record<string, string> = {
};

const { check, checkTable } = knownFailures(TSLAB_KNOWN_FAILURES);
const IMAGE = 'tslab-busybox:engines';
/** The name daemon.json gives the runtime under test ("runc" is docker's own). */
const RUNTIME = 'engines-rt';
const SHIM_SOCKETS = '/run/containerd/s';

let scope: { prefix: string; dir: string };
let snapshot: HostSnapshot;
let shimSocketsBefore: string[];
let daemon: Daemon | undefined;
let cgroupParent: string;
let env: NodeJS.ProcessEnv;
let started = 0;
let counter = 0;

function docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return sh(path.join(scope.dir, 'io'), 'docker', args, { env, ...opts });
}

/** `docker run --runtime NAME --network none`. */
function run(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return docker(['run', '--runtime', RUNTIME, '--network', 'none', ...args], opts);
}

function name(label: string): string {
  return `${scope.prefix}-${++counter}-${label}`;
}

function dataDir(label: string): string {
  const d = path.join(scope.dir, 'data', `${label}-${++counter}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

async function withDetached(label: string, flags: string[], cmd: string[], body: (n: string) => Promise<void>): Promise<void> {
  const n = name(label);
  try {
    ok(await run(['-d', '--name', n, ...flags, IMAGE, ...cmd]));
    await body(n);
  } finally {
    await docker(['rm', '-f', n]);
  }
}

async function inspect(n: string, format: string): Promise<string> {
  return ok(await docker(['inspect', '--format', format, n])).trim();
}

function shellQuote(args: string[]): string {
  return args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/** `script` gives docker a real terminal of ROWSxCOLS. */
function inTerminal(args: string[], rows: number, cols: number): Promise<CmdResult> {
  return sh(path.join(scope.dir, 'io'), 'script', ['-qec', `stty rows ${rows} cols ${cols}; ${shellQuote(['docker', ...args])}`, '/dev/null'], {
    env,
    holdStdin: true,
    timeoutMs: 20_000,
  });
}

beforeAll(async () => {
  started = Date.now();
  scope = fileScope(`docker-${runtimeName()}`);
  snapshot = snapshotHost();
  shimSocketsBefore = entries(SHIM_SOCKETS);
  cgroupParent = `/${scope.prefix}-cg`;
  const sock = path.join(scope.dir, 'docker.sock');
  const { nofile, nproc } = hostUlimits();
  const config = path.join(scope.dir, 'daemon.json');
  fs.writeFileSync(
    config,
    JSON.stringify(
      {
        runtimes: { [RUNTIME]: { path: runtimePath() } },
        'data-root': path.join(scope.dir, 'data-root'),
        'exec-root': path.join(scope.dir, 'exec'),
        pidfile: path.join(scope.dir, 'docker.pid'),
        hosts: [`unix://${sock}`],
        'containerd-namespace': scope.prefix,
        'containerd-plugins-namespace': `${scope.prefix}-plugins`,
        bridge: 'none',
        iptables: false,
        'ip-forward': false,
        'ip-masq': false,
        'exec-opts': ['native.cgroupdriver=cgroupfs'],
        'cgroup-parent': cgroupParent,
        // Within the host's hard limits: there is no CAP_SYS_RESOURCE to raise them (ENGINES.md).
        'default-ulimits': {
          nofile: { Name: 'nofile', Hard: nofile, Soft: nofile },
          nproc: { Name: 'nproc', Hard: nproc, Soft: nproc },
        },
      },
      null,
      2,
    ),
  );
  env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(scope.dir, 'client') };
  daemon = await startDaemon('dockerd', ['--config-file', config], sock, path.join(scope.dir, 'dockerd.log'));
  ok(await docker(['import', busyboxTar(scope.dir), IMAGE], { timeoutMs: 60_000 }));
});

afterAll(async () => {
  if (!scope) return;
  const errors: string[] = [];
  if (daemon) {
    const left = await docker(['ps', '-aq']);
    for (const id of left.stdout.split('\n').filter(Boolean)) await docker(['rm', '-f', id]);
    await docker(['rmi', IMAGE]);
    await daemon.stop(30_000);
  }
  errors.push(...killLeftovers(scope.dir));
  errors.push(...removeCgroupTree(cgroupParent.slice(1)));
  const shims = entries(SHIM_SOCKETS).filter((s) => !shimSocketsBefore.includes(s));
  if (shims.length) errors.push(`shim sockets left in ${SHIM_SOCKETS}: ${shims.join(' ')}`);
  try {
    await expectNoLeaks(scope.prefix, scope.dir, snapshot);
  } catch (err) {
    errors.push(String(err));
  }
  if (!isMountedUnder(scope.dir)) fs.rmSync(scope.dir, { recursive: true, force: true });
  else errors.push(`${scope.dir} still has mounts below it; left in place`);
  console.log(`[engines] docker on ${runtimeName()}: ${Date.now() - started} ms for the file`);
  if (errors.length) throw new Error(errors.join('\n'));
});

describe(`docker run --runtime ${runtimeName()}`, () => {
  check('run --rm: output and exit statuses 0, 3, 127 (not found), 126 (not executable)', async () => {
    const [hi, three, notFound, notExec] = await Promise.all([
      run(['--rm', IMAGE, 'echo', 'hello from docker']),
      run(['--rm', IMAGE, 'sh', '-c', 'exit 3']),
      run(['--rm', IMAGE, '/no/such/program']),
      run(['--rm', IMAGE, '/etc/passwd']),
    ]);
    expect(ok(hi)).toBe('hello from docker\n');
    exits(three, 3);
    exits(notFound, 127);
    exits(notExec, 126);
  });

  check("docker's default seccomp profile is in force", async () => {
    expect(ok(await run(['--rm', IMAGE, 'sh', '-c', 'grep ^Seccomp: /proc/self/status']))).toMatch(/^Seccomp:\s+2\n$/);
  });

  check('--read-only: / refuses writes, the /dev/shm tmpfs takes them', async () => {
    const r = await run(['--rm', '--read-only', IMAGE, 'sh', '-c', 'touch /newfile 2>/dev/null && echo root-writable; touch /dev/shm/x && echo shm-writable']);
    expect(ok(r)).toBe('shm-writable\n');
  });

  check('-m: the OOM killer ends it, exit 137', async () => {
    exits(await run(['--rm', '-m', '32m', IMAGE, 'tail', '/dev/zero'], { timeoutMs: 60_000 }), 137);
  }, 70_000);

  check('--pids-limit: forks beyond the limit fail', async () => {
    // The shell gives up at the first fork the pids controller refuses; its sleeps die with it (PID 1).
    const r = await run(['--rm', '--pids-limit', '8', IMAGE, 'sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done; echo all-forked']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stdout).toBe('8\n');
    expect(r.stderr).toMatch(/can't fork/);
  });

  check('run -d, logs, exec (output, exit status, -u, -e, -w), exec -it gets a terminal', async () => {
    await withDetached('exec', [], ['sh', '-c', 'echo logged-line; exec sleep 1000'], async (n) => {
      await until(async () => (await docker(['logs', n])).stdout === 'logged-line\n', 'the log line');
      expect(ok(await docker(['exec', n, 'sh', '-c', 'echo exec-out; tr "\\0" " " < /proc/1/cmdline']))).toBe('exec-out\nsleep 1000 ');
      exits(await docker(['exec', n, 'sh', '-c', 'exit 7']), 7);
      expect(ok(await docker(['exec', '-u', '42', '-e', 'V=w', '-w', '/etc', n, 'sh', '-c', 'id -u; echo $V; pwd']))).toBe('42\nw\n/etc\n');
      // Only the terminal itself: its size after `exec -it` arrives late or not at all with runc too in this harness.
      const tty = await inTerminal(['exec', '-it', n, 'sh', '-c', 'tty'], 21, 77);
      expect(ok(tty).replace(/\r/g, '')).toMatch(/\/dev\/pts\/\d+\n/);
    });
  });

  check('pause / unpause: the process stops and goes on', async () => {
    const d = dataDir('pause');
    await withDetached('pause', ['-v', `${d}:/data`], ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /data/n; sleep 0.05; done'], async (n) => {
      const counter = () => Number(fs.readFileSync(path.join(d, 'n'), 'utf8') || '0');
      await until(() => fs.existsSync(path.join(d, 'n')) && counter() > 0, 'the counter to start');
      ok(await docker(['pause', n]));
      expect(await inspect(n, '{{.State.Status}}')).toBe('paused');
      const frozenAt = counter();
      await new Promise((r) => setTimeout(r, 500));
      expect(counter()).toBe(frozenAt);
      ok(await docker(['unpause', n]));
      await until(() => counter() > frozenAt, 'the counter to go on after unpause');
      expect(await inspect(n, '{{.State.Status}}')).toBe('running');
    });
  });

  check('stop: SIGTERM reaches the process, which exits on its own', async () => {
    const d = dataDir('stop');
    await withDetached('stop', ['-v', `${d}:/data`], ['sh', '-c', 'trap "echo got-term > /data/term; exit 0" TERM; touch /data/up; while :; do sleep 0.1; done'], async (n) => {
      await until(() => fs.existsSync(path.join(d, 'up')), 'the container to start');
      const r = await docker(['stop', '-t', '20', n]);
      ok(r);
      expect(fs.readFileSync(path.join(d, 'term'), 'utf8')).toBe('got-term\n');
      expect(await inspect(n, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');
      expect(r.ms).toBeLessThan(15_000);
    });
  });

  checkTable();
});
