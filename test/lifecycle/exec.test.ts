// `exec`: a new process in a running container, read from the outside (the host's /proc) and from the inside
// (what the process prints): the stage that starts it, the namespaces, root and cgroups it joins, the fds it
// passes or keeps, a detached exec reaped by its caller, terminals. What the process is made of (runc's
// flags, process.json) and the refusals: exec-process.test.ts. The same file runs against runc and
// tslab-runtime. Every fd, socket and process this file makes is closed or ended by its test; containers
// go with setupSuite's cleanup.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setWindowSize } from '../../src/linux/pty.js';
import { acceptUnix, listenUnix, pollReadable, recvFd } from '../../src/linux/socket.js';
import { setupSuite } from '../helpers/bundle.js';
import { execHelpers, lines } from '../helpers/exec.js';
import { procStatus, waitFor } from '../helpers/kernel.js';
import { REPO_ROOT, describeResult, expectError, expectOk, type RunResult, runtimeCommand, sleep } from '../helpers/runtime.js';

const s = setupSuite('exec');
const { running, exec } = execHelpers(s);

function gone(pid: number): boolean {
  try {
    return ['Z', 'X'].includes(procStatus(pid).State[0]);
  } catch {
    return true;
  }
}

/** Accepts the runtime's connection on a console socket and returns the pty master it sends (non-blocking reads follow). */
async function receiveMaster(listener: number, result: Promise<RunResult>): Promise<{ master: number; payload: string; r: RunResult }> {
  let settled: RunResult | null = null;
  void result.then((r) => (settled = r));
  const deadline = Date.now() + 15_000;
  while (!pollReadable(listener, 0)) {
    if (settled !== null || Date.now() > deadline) throw new Error(`the runtime never connected to the console socket\n${describeResult(await result)}`);
    await sleep(10);
  }
  const conn = acceptUnix(listener);
  try {
    const { fd, payload } = recvFd(conn);
    return { master: fd, payload, r: await result };
  } finally {
    fs.closeSync(conn);
  }
}

/** Reads a pty master until EIO (every holder of the slave is gone) or the deadline. */
async function readAll(master: number, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    if (!pollReadable(master, 0)) {
      if (Date.now() > deadline) break;
      await sleep(10);
      continue;
    }
    let n: number;
    try {
      n = fs.readSync(master, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EIO') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

describe('exec in a running container', () => {
  test('the command, its arguments and its exit status pass through', async () => {
    const { id } = await running();
    const r = await exec(id, ['sh', '-c', 'echo "$0:$1"; exit 7', 'zero', 'one two']);
    expect(r.code, describeResult(r)).toBe(7);
    expect(lines(r.stdout)).toEqual(['zero:one two']);
    const ok = await exec(id, ['true']);
    expectOk(ok);
  });

  test('it joins the init\'s namespaces and root, and its cgroups', async () => {
    const { id, pid } = await running();
    const pidFile = path.join(s.tmpDir('pid'), 'exec.pid');
    const r = await exec(id, ['sleep', '30'], ['--detach', '--pid-file', pidFile]);
    expectOk(r);
    const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
    s.defer(() => {
      if (!gone(execPid)) process.kill(execPid, 'SIGKILL');
    });
    // --detach returned while the program runs; the pid file names it as the host sees it.
    await waitFor(() => fs.readlinkSync(`/proc/${execPid}/exe`) === '/bin/busybox', 5000, 'the exec\'d program');
    for (const ns of ['pid', 'mnt', 'net', 'uts', 'ipc', 'cgroup', 'user']) {
      expect(fs.readlinkSync(`/proc/${execPid}/ns/${ns}`), ns).toBe(fs.readlinkSync(`/proc/${pid}/ns/${ns}`));
    }
    expect(fs.readFileSync(`/proc/${execPid}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    // Inside its PID namespace it is not pid 1, and the init is.
    const nspid = procStatus(execPid).NSpid.split(/\s+/);
    expect(nspid.length).toBe(2);
    expect(Number(nspid[1])).toBeGreaterThan(1);
    // Reaped once it ends: not left a zombie.
    process.kill(execPid, 'SIGKILL');
    await waitFor(() => !fs.existsSync(`/proc/${execPid}`), 5000, 'the exec\'d process to be reaped');
  });

  test('--preserve-fds passes the caller\'s fd 3 on', async () => {
    const { id } = await running();
    const out = path.join(s.tmpDir('fds'), 'out');
    const fd = fs.openSync(out, 'w');
    const { file, prefix } = runtimeCommand();
    const child = spawn(file, [...prefix, '--root', s.rt.root, 'exec', '--preserve-fds', '1', id, 'sh', '-c', 'echo through fd 3 >&3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    fs.closeSync(fd);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('through fd 3\n');
  });

  test('without --preserve-fds the caller\'s fd 3 does not reach the process', async () => {
    const { id } = await running();
    const out = path.join(s.tmpDir('fds'), 'out');
    const fd = fs.openSync(out, 'w');
    const { file, prefix } = runtimeCommand();
    const child = spawn(file, [...prefix, '--root', s.rt.root, 'exec', id, 'sh', '-c', 'ls /proc/self/fd'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
    fs.closeSync(fd);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    // ls's own directory fd is 3; nothing of ours is open at 3 or above otherwise.
    expect(lines(stdout).map(Number).filter((n) => n > 3)).toEqual([]);
  });
});

/**
 * A caller like conmon or the containerd shim: a child subreaper that runs `exec --detach --pid-file`, then
 * waits for the pid the file names and prints its exit status as JSON (or what waitpid said instead).
 */
const SUBREAPER_CALLER = `
const koffi = require('module').createRequire(process.argv[1] + '/')('koffi');
const { spawnSync } = require('child_process');
const fs = require('fs');
const libc = koffi.load('libc.so.6');
const prctl = libc.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)');
const waitpid = libc.func('int waitpid(int, _Out_ int *, int)');
if (prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0) !== 0) throw new Error('PR_SET_CHILD_SUBREAPER failed');
const [pidFile, file, ...args] = process.argv.slice(2);
const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20000 });
if (r.status !== 0) {
  console.log(JSON.stringify({ runtime: r.status, stderr: String(r.stderr) }));
} else {
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  const status = [0];
  const got = waitpid(pid, status, 0);
  console.log(JSON.stringify(got === pid ? { exit: (status[0] >> 8) & 0xff, signal: status[0] & 0x7f } : { waitpid: got, errno: koffi.errno() }));
}
`;

describe('exec --detach: the program is left to the caller to reap', () => {
  // runc leaves the program a zombie until it exits itself; the caller, a child subreaper, then reaps it
  // and takes its exit status. A runtime that reaps it first (Node reaps every child it spawned) takes
  // the status away: podman then says 255 and containerd waits for ever. The runtime's exit is delayed
  // here (NODE_OPTIONS reaches tslab-runtime only) so that the program always ends before it.
  test('a quick program\'s exit status reaches a subreaper caller even when the runtime ends after it', async () => {
    const { id } = await running();
    const dir = s.tmpDir('subreaper');
    const pidFile = path.join(dir, 'exec.pid');
    const slowExit = path.join(dir, 'slow-exit.cjs');
    fs.writeFileSync(slowExit, 'const exit = process.exit.bind(process);\nprocess.exit = (code) => void setTimeout(() => exit(code), 1000);\n');
    const { file, prefix } = runtimeCommand();
    const caller = spawn(
      process.execPath,
      ['-e', SUBREAPER_CALLER, REPO_ROOT, pidFile, file, ...prefix, '--root', s.rt.root, 'exec', '--detach', '--pid-file', pidFile, id, 'sh', '-c', 'exit 7'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: `--require ${slowExit}` }, cwd: REPO_ROOT },
    );
    let out = '';
    caller.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    caller.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => caller.on('exit', (c) => resolve(c)));
    expect(code, out).toBe(0);
    expect(JSON.parse(out), out).toEqual({ exit: 7, signal: 0 });
  });
});

describe('exec with a terminal', () => {
  test('--tty --detach sends the pty master over --console-socket; the process has a tty of the container', async () => {
    const { id } = await running();
    const socketPath = path.join(s.tmpDir('console'), 'c.sock');
    const listener = listenUnix(socketPath);
    try {
      const result = exec(id, ['sh', '-c', 'tty; echo done'], ['--tty', '--detach', '--console-socket', socketPath]);
      const { master, payload, r } = await receiveMaster(listener, result);
      try {
        expectOk(r);
        expect(payload).toBe('/dev/ptmx');
        const text = lines(await readAll(master));
        expect(text[0]).toMatch(/^\/dev\/pts\/\d+$/);
        expect(text).toContain('done');
      } finally {
        fs.closeSync(master);
      }
    } finally {
      fs.closeSync(listener);
    }
  });

  test('process.json\'s terminal counts when no --tty is given (containerd sends none)', async () => {
    const { id } = await running();
    const file = path.join(s.tmpDir('process'), 'process.json');
    fs.writeFileSync(file, JSON.stringify({ terminal: true, args: ['sh', '-c', 'tty'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
    const socketPath = path.join(s.tmpDir('console'), 'c.sock');
    const listener = listenUnix(socketPath);
    try {
      const result = s.rt.exec(['exec', '--process', file, '--detach', '--console-socket', socketPath, id]);
      const { master, r } = await receiveMaster(listener, result);
      try {
        expectOk(r);
        expect(lines(await readAll(master))[0]).toMatch(/^\/dev\/pts\/\d+$/);
      } finally {
        fs.closeSync(master);
      }
    } finally {
      fs.closeSync(listener);
    }
  });

  test('process.json\'s consoleSize is the size the process starts with', async () => {
    const { id } = await running();
    const file = path.join(s.tmpDir('process'), 'process.json');
    fs.writeFileSync(file, JSON.stringify({ terminal: true, consoleSize: { height: 41, width: 123 }, args: ['stty', 'size'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
    const socketPath = path.join(s.tmpDir('console'), 'c.sock');
    const listener = listenUnix(socketPath);
    try {
      const { master, r } = await receiveMaster(listener, s.rt.exec(['exec', '--process', file, '--detach', '--console-socket', socketPath, id]));
      try {
        expectOk(r);
        expect(lines(await readAll(master))).toContain('41 123');
      } finally {
        fs.closeSync(master);
      }
    } finally {
      fs.closeSync(listener);
    }
  });

  test('a size the receiver sets on the master is what the process reads (a resize, as containerd does)', async () => {
    const { id } = await running();
    const socketPath = path.join(s.tmpDir('console'), 'c.sock');
    const listener = listenUnix(socketPath);
    try {
      // The process waits for a line, so the size is read after the resize.
      const result = exec(id, ['sh', '-c', 'read line; stty size'], ['--tty', '--detach', '--console-socket', socketPath]);
      const { master, r } = await receiveMaster(listener, result);
      try {
        expectOk(r);
        setWindowSize(master, 33, 101);
        fs.writeSync(master, 'go\n');
        expect(lines(await readAll(master))).toContain('33 101');
      } finally {
        fs.closeSync(master);
      }
    } finally {
      fs.closeSync(listener);
    }
  });

  test('--tty --detach without a console socket is refused', async () => {
    const { id } = await running();
    expectError(await exec(id, ['true'], ['--tty', '--detach']), /console socket/);
  });
});
