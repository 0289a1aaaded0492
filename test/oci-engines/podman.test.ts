// podman (Debian's 4.3, with conmon) driving the runtime under test through `--runtime <absolute path>`:
// the everyday commands, checked by what the container does (output, exit status, files it writes on a
// bind mount, the host's view of its processes). Storage, run root, config and events live in this file's
// temp dir; every container goes under one cgroup parent named with the run's prefix.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { isMountedUnder, snapshotHost, type HostSnapshot } from '../helpers/leaks.js';
import { runtimeName } from '../helpers/runtime.js';
import {
  busyboxTar,
  exits,
  expectNoLeaks,
  fileScope,
  hostUlimits,
  knownFailures,
  ok,
  removeCgroupTree,
  runtimePath,
  sh,
  show,
  until,
  TTY_PROBE,
  type CmdResult,
} from './harness.js';

/** Checks that fail on tslab-runtime only, and why (see knownFailures). */
const TSLAB_KNOWN_FAILURES: Record<string, string> = {
};

const { check, checkTable } = knownFailures(TSLAB_KNOWN_FAILURES);
const IMAGE = 'localhost/tslab-busybox:engines';

let scope: { prefix: string; dir: string };
let snapshot: HostSnapshot;
let env: NodeJS.ProcessEnv;
let cgroupParent: string;
let started = 0;
let counter = 0;

function podman(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  const root = path.join(scope.dir, 'storage');
  const runroot = path.join(scope.dir, 'run');
  return sh(path.join(scope.dir, 'io'), 'podman', ['--root', root, '--runroot', runroot, '--runtime', runtimePath(), ...args], {
    env,
    ...opts,
  });
}

/** A container name of this file (the prefix makes leftovers findable). */
function name(label: string): string {
  return `${scope.prefix}-${++counter}-${label}`;
}

/** `podman run` with this file's cgroup parent. */
function run(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return podman(['run', '--cgroup-parent', cgroupParent, ...args], opts);
}

/** A host directory the container sees at /data. */
function dataDir(label: string): string {
  const d = path.join(scope.dir, 'data', `${label}-${++counter}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** `podman run -d --name N ... IMAGE CMD`, removed (rm -f -t 0) when `body` is done. */
async function withDetached(label: string, flags: string[], cmd: string[], body: (n: string) => Promise<void>): Promise<void> {
  const n = name(label);
  try {
    ok(await run(['-d', '--name', n, ...flags, IMAGE, ...cmd]));
    await body(n);
  } finally {
    await podman(['rm', '-f', '-t', '0', n]);
  }
}

async function inspect(n: string, format: string): Promise<string> {
  return ok(await podman(['inspect', '--format', format, n])).trim();
}

/** `script` gives the command a real terminal of ROWSxCOLS (podman -t copies its own terminal's size). */
function inTerminal(command: string, rows: number, cols: number): Promise<CmdResult> {
  return sh(path.join(scope.dir, 'io'), 'script', ['-qec', `stty rows ${rows} cols ${cols}; ${command}`, '/dev/null'], {
    env,
    holdStdin: true,
    timeoutMs: 20_000,
  });
}

function shellQuote(args: string[]): string {
  return args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

function podmanLine(args: string[]): string {
  return shellQuote(['podman', '--root', path.join(scope.dir, 'storage'), '--runroot', path.join(scope.dir, 'run'), '--runtime', runtimePath(), ...args]);
}

beforeAll(async () => {
  started = Date.now();
  scope = fileScope(`podman-${runtimeName()}`);
  snapshot = snapshotHost();
  cgroupParent = `/${scope.prefix}-cg`;
  const { nofile, nproc } = hostUlimits();
  const conf = path.join(scope.dir, 'containers.conf');
  fs.writeFileSync(
    conf,
    [
      '[containers]',
      // Within the host's hard limits: there is no CAP_SYS_RESOURCE to raise them (ENGINES.md).
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${path.join(scope.dir, 'events.log')}"`,
      `tmp_dir = "${path.join(scope.dir, 'tmp')}"`,
      `volume_path = "${path.join(scope.dir, 'volumes')}"`,
      '',
    ].join('\n'),
  );
  const storage = path.join(scope.dir, 'storage.conf');
  fs.writeFileSync(
    storage,
    ['[storage]', 'driver = "overlay"', `graphroot = "${path.join(scope.dir, 'storage')}"`, `runroot = "${path.join(scope.dir, 'run')}"`, ''].join('\n'),
  );
  env = { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, CONTAINERS_REGISTRIES_CONF: path.join(scope.dir, 'registries.conf') };
  fs.writeFileSync(env.CONTAINERS_REGISTRIES_CONF!, 'unqualified-search-registries = []\n');
  ok(await podman(['import', busyboxTar(scope.dir), IMAGE], { timeoutMs: 60_000 }));
});

afterAll(async () => {
  if (!scope) return;
  const errors: string[] = [];
  const rm = await podman(['rm', '-a', '-f', '-t', '0']);
  if (rm.code !== 0) errors.push(show(rm));
  const reset = await podman(['system', 'reset', '--force']);
  if (reset.code !== 0) errors.push(show(reset));
  errors.push(...removeCgroupTree(cgroupParent.slice(1)));
  try {
    await expectNoLeaks(scope.prefix, scope.dir, snapshot);
  } catch (err) {
    errors.push(String(err));
  }
  if (!isMountedUnder(scope.dir)) fs.rmSync(scope.dir, { recursive: true, force: true });
  else errors.push(`${scope.dir} still has mounts below it; left in place`);
  console.log(`[engines] podman on ${runtimeName()}: ${Date.now() - started} ms for the file`);
  if (errors.length) throw new Error(errors.join('\n'));
});

describe(`podman --runtime ${runtimeName()}`, () => {
  check('run --rm: output and exit statuses 0, 3, 127 (not found), 126 (not executable)', async () => {
    const [hi, three, notFound, notExec] = await Promise.all([
      run(['--rm', IMAGE, 'echo', 'hello from podman']),
      run(['--rm', IMAGE, 'sh', '-c', 'exit 3']),
      run(['--rm', IMAGE, '/no/such/program']),
      run(['--rm', IMAGE, '/etc/passwd']),
    ]);
    expect(ok(hi)).toBe('hello from podman\n');
    exits(three, 3);
    exits(notFound, 127);
    exits(notExec, 126);
  });

  check('run -i: stdin reaches the container', async () => {
    const r = await run(['--rm', '-i', IMAGE, 'sh', '-c', 'cat; echo " (read)"'], { input: 'piped in' });
    expect(ok(r)).toBe('piped in (read)\n');
  });

  check('-u, -w, -e, --hostname', async () => {
    const r = await run(['--rm', '-u', '1234:2345', '-w', '/tmp', '-e', 'GREETING=hi there', '--hostname', 'podbox', IMAGE, 'sh', '-c', 'id -u; id -g; pwd; echo "$GREETING"; hostname']);
    expect(ok(r).split('\n')).toEqual(['1234', '2345', '/tmp', 'hi there', 'podbox', '']);
  });

  check('--network none: only lo', async () => {
    const r = await run(['--rm', '--network', 'none', IMAGE, 'sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"]);
    expect(ok(r)).toBe('lo\n');
  });

  check('--read-only: / refuses writes, the /tmp tmpfs takes them', async () => {
    const r = await run(['--rm', '--read-only', IMAGE, 'sh', '-c', 'touch /newfile 2>/dev/null && echo root-writable; touch /tmp/x && echo tmp-writable']);
    expect(ok(r)).toBe('tmp-writable\n');
  });

  check('bind mounts: rw written through to the host, ro refused', async () => {
    const rw = dataDir('rw');
    const ro = dataDir('ro');
    fs.writeFileSync(path.join(ro, 'in'), 'host file\n');
    const r = await run(['--rm', '-v', `${rw}:/rw`, '-v', `${ro}:/ro:ro`, IMAGE, 'sh', '-c', 'echo written > /rw/out; cat /ro/in; echo x > /ro/in 2>/dev/null || echo ro-refused']);
    expect(ok(r)).toBe('host file\nro-refused\n');
    expect(fs.readFileSync(path.join(rw, 'out'), 'utf8')).toBe('written\n');
    expect(fs.readFileSync(path.join(ro, 'in'), 'utf8')).toBe('host file\n');
  });

  check('own PID namespace (pid 1, sees nothing of the host); --pid host sees the host', async () => {
    const [own, host] = await Promise.all([
      run(['--rm', IMAGE, 'sh', '-c', `echo $$; test -d /proc/${process.pid} && echo sees-host || echo own`]),
      run(['--rm', '--pid', 'host', IMAGE, 'sh', '-c', `test -d /proc/${process.pid} && echo sees-host || echo own`]),
    ]);
    expect(ok(own)).toBe('1\nown\n');
    expect(ok(host)).toBe('sees-host\n');
  });

  check('--memory: the OOM killer ends it, exit 137', async () => {
    // tail keeps every line of /dev/zero (one endless line) in memory.
    const r = await run(['--rm', '-m', '32m', IMAGE, 'tail', '/dev/zero'], { timeoutMs: 60_000 });
    exits(r, 137);
  }, 70_000);

  check('--pids-limit: forks beyond the limit fail', async () => {
    // The shell gives up at the first fork the pids controller refuses; its sleeps die with it (PID 1).
    const r = await run(['--rm', '--pids-limit', '8', IMAGE, 'sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done; echo all-forked']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stdout).toBe('8\n');
    expect(r.stderr).toMatch(/can't fork/);
  });

  check('run -it: a terminal of the caller\'s size', async () => {
    const r = await inTerminal(podmanLine(['run', '--rm', '-it', '--cgroup-parent', cgroupParent, IMAGE, 'sh', '-c', TTY_PROBE]), 33, 111);
    const out = ok(r).replace(/\r/g, '');
    expect(out).toMatch(/\/dev\/pts\/\d+\n33 111\n/m);
  });

  check('run -d, exec (output, exit status, env, user), exec -it with a size, top', async () => {
    await withDetached('exec', [], ['sleep', '1000'], async (n) => {
      expect(ok(await podman(['exec', n, 'sh', '-c', 'echo exec-out; tr "\\0" " " < /proc/1/cmdline']))).toBe('exec-out\nsleep 1000 ');
      exits(await podman(['exec', n, 'sh', '-c', 'exit 7']), 7);
      expect(ok(await podman(['exec', '-u', '42', '-e', 'V=w', '-w', '/etc', n, 'sh', '-c', 'id -u; echo $V; pwd']))).toBe('42\nw\n/etc\n');
      const tty = await inTerminal(podmanLine(['exec', '-it', n, 'sh', '-c', TTY_PROBE]), 21, 77);
      expect(ok(tty).replace(/\r/g, '')).toMatch(/\/dev\/pts\/\d+\n21 77\n/m);
      const top = ok(await podman(['top', n, 'pid', 'args']));
      expect(top).toMatch(/^\s*1\s+sleep 1000\s*$/m);
    });
  });

  check('pause / unpause: the process stops and goes on', async () => {
    const d = dataDir('pause');
    await withDetached('pause', ['-v', `${d}:/data`], ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /data/n; sleep 0.05; done'], async (n) => {
      const counter = () => Number(fs.readFileSync(path.join(d, 'n'), 'utf8') || '0');
      await until(() => fs.existsSync(path.join(d, 'n')) && counter() > 0, 'the counter to start');
      ok(await podman(['pause', n]));
      expect(await inspect(n, '{{.State.Status}}')).toBe('paused');
      const frozenAt = counter();
      await new Promise((r) => setTimeout(r, 500));
      expect(counter()).toBe(frozenAt);
      ok(await podman(['unpause', n]));
      await until(() => counter() > frozenAt, 'the counter to go on after unpause');
      expect(await inspect(n, '{{.State.Status}}')).toBe('running');
    });
  });

  check('stop: SIGTERM reaches the process, which exits on its own', async () => {
    const d = dataDir('stop');
    await withDetached('stop', ['-v', `${d}:/data`], ['sh', '-c', 'trap "echo got-term > /data/term; exit 0" TERM; touch /data/up; while :; do sleep 0.1; done'], async (n) => {
      await until(() => fs.existsSync(path.join(d, 'up')), 'the container to start');
      const r = await podman(['stop', '-t', '20', n]);
      ok(r);
      expect(fs.readFileSync(path.join(d, 'term'), 'utf8')).toBe('got-term\n');
      expect(await inspect(n, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');
      // Far below the 20 s after which podman would have sent SIGKILL.
      expect(r.ms).toBeLessThan(15_000);
    });
  });

  check('restart: the program runs again in a new process', async () => {
    const d = dataDir('restart');
    await withDetached('restart', ['-v', `${d}:/data`], ['sh', '-c', 'echo start >> /data/log; sleep 1000'], async (n) => {
      await until(() => fs.existsSync(path.join(d, 'log')), 'the first start');
      const pid1 = await inspect(n, '{{.State.Pid}}');
      ok(await podman(['restart', '-t', '0', n]));
      await until(() => fs.readFileSync(path.join(d, 'log'), 'utf8') === 'start\nstart\n', 'the second start');
      const pid2 = await inspect(n, '{{.State.Status}} {{.State.Pid}}');
      expect(pid2).toMatch(/^running \d+$/);
      expect(pid2).not.toBe(`running ${pid1}`);
    });
  });

  check('kill -s KILL: exit 137; rm -f of a running container removes it and its processes', async () => {
    await withDetached('kill', [], ['sleep', '1000'], async (n) => {
      ok(await podman(['kill', '-s', 'KILL', n]));
      ok(await podman(['wait', n]));
      expect(await inspect(n, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 137');
    });
    const n = name('rm');
    ok(await run(['-d', '--name', n, IMAGE, 'sleep', '1000']));
    const pid = Number(await inspect(n, '{{.State.Pid}}'));
    expect(pid).toBeGreaterThan(1);
    ok(await podman(['rm', '-f', '-t', '0', n]));
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    const ps = ok(await podman(['ps', '-a', '--format', '{{.Names}}']));
    expect(ps.split('\n')).not.toContain(n);
  });

  checkTable();
});
