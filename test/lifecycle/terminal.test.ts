// Terminals: `process.terminal: true` relayed by a foreground `run`, the pty master handed to a
// `--console-socket` receiver (what conmon and the containerd shim do), the errors around both, and the
// init's own session when there is no terminal at all.
//
// Every pty and socket fd this file opens is closed after its test (and checked for), every runtime
// process it starts itself is killed by pid if it overstays; containers go with setupSuite's cleanup.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { fcntl } from '../../src/linux/fs.js';
import { getWindowSize, openPtyPair, setWindowSize } from '../../src/linux/pty.js';
import { acceptUnix, listenUnix, pollReadable, recvFd } from '../../src/linux/socket.js';
import { setupSuite, type Bundle, type SpecMutator } from '../helpers/bundle.js';
import { findPrefixedCgroups } from '../helpers/leaks.js';
import { describeResult, expectError, expectOk, type RunResult, runtimeCommand, runtimeName, sleep } from '../helpers/runtime.js';
import { ptyFds } from '../helpers/kernel-tests.js';

const s = setupSuite('term');

/**
 * runc 1.1.5's foreground `run` of a terminal container needs a terminal on the host side: one of its
 * stdin/stdout/stderr, else its controlling terminal (/dev/tty). With none it fails before creating
 * anything ("open /dev/tty: no such device or address"); tslab-runtime relays the pty to whatever its
 * stdio are (24x80 when stdout is not a terminal). Local to this file for now.
 */
const RUN_TERMINAL_NEEDS_HOST_TERMINAL = runtimeName() === 'runc';

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

// --- fds of this process --------------------------------------------------------------------------
const openFds = new Set<number>();
let ptyFdsBefore: string[] = [];

function track(fd: number): number {
  openFds.add(fd);
  return fd;
}

function closeFd(fd: number): void {
  if (!openFds.delete(fd)) throw new Error(`fd ${fd} is not one of this test's`);
  fs.closeSync(fd);
}

beforeEach(() => {
  ptyFdsBefore = ptyFds();
});

// Registered after setupSuite's: with vitest's stacked hooks this runs first, before containers go.
afterEach(() => {
  const leftover = [...openFds];
  for (const fd of leftover) closeFd(fd);
  expect(leftover, 'fds left open by the test').toEqual([]);
  expect(ptyFds(), 'pty fds of this process').toEqual(ptyFdsBefore);
});

// --- reading a pty master without ever hanging -----------------------------------------------------
function setNonBlocking(fd: number): void {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/**
 * Reads a non-blocking pty master until EIO (every slave closed: the program and all its children are
 * gone), until `until(text)` holds, or until the deadline. Never blocks the event loop.
 */
async function readMaster(
  master: number,
  opts: { until?: (text: string) => boolean; timeoutMs?: number } = {},
): Promise<{ text: string; eof: boolean }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  const text = () => Buffer.concat(chunks).toString('utf8');
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(master, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EIO') return { text: text(), eof: true };
      if (code !== 'EAGAIN') throw err;
      if (opts.until?.(text())) return { text: text(), eof: false };
      if (Date.now() > deadline) return { text: text(), eof: false };
      await sleep(5);
      continue;
    }
    if (n === 0) return { text: text(), eof: true };
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}

/** Lines as a program wrote them on its terminal (the line discipline may add "\r"). */
function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.replace(/\r$/, ''));
}

/** Waits, without blocking the event loop, until `fd` is readable; false if the time ran out. */
async function readable(fd: number, timeoutMs: number, stop?: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pollReadable(fd, 0)) return true;
    if (stop?.() || Date.now() > deadline) return false;
    await sleep(10);
  }
}

// --- a console socket --------------------------------------------------------------------------------
interface ConsoleSocket {
  path: string;
  listener: number;
}

function consoleSocket(): ConsoleSocket {
  const p = path.join(s.tmpDir('console'), 'console.sock');
  return { path: p, listener: track(listenUnix(p)) };
}

/**
 * Accepts the runtime's connection and receives what it sends while `create` is under way. Fails with
 * the runtime's output if create ended without connecting. Returns the received fd (tracked).
 */
async function receiveConsole(sock: ConsoleSocket, create: Promise<RunResult>): Promise<{ master: number; payload: string; result: RunResult }> {
  let settled: RunResult | null = null;
  void create.then((r) => (settled = r));
  const connected = await readable(sock.listener, 15_000, () => settled !== null && settled.code !== 0);
  if (!connected) {
    const r = await create;
    throw new Error(`the runtime never connected to the console socket\n${describeResult(r)}`);
  }
  const conn = track(acceptUnix(sock.listener));
  try {
    expect(await readable(conn, 15_000), 'the runtime sent nothing on the console socket').toBe(true);
    const { fd, payload } = recvFd(conn);
    track(fd);
    const result = await create;
    expectOk(result);
    // Exactly one message, then the connection ends: nobody (runtime or container init) keeps it.
    expect(await readable(conn, 5_000), 'the console socket connection was not closed after the fd').toBe(true);
    expect(() => recvFd(conn)).toThrow(/closed the socket without sending an fd/);
    return { master: fd, payload, result };
  } finally {
    closeFd(conn);
  }
}

/** A bundle whose process has a terminal and runs `script` in sh. */
function terminalBundle(script: string, extra?: SpecMutator): Promise<Bundle> {
  return s.bundle((spec) => {
    spec.process.terminal = true;
    spec.process.args = ['sh', '-c', script];
    extra?.(spec);
  });
}

// --- a runtime with a controlling terminal of our own ------------------------------------------------
/**
 * Runs `<runtime> --root <root> args...` as the leader of a new session whose controlling terminal is
 * a fresh host pty (util-linux `setsid --ctty`), but with stdin /dev/null and stdout/stderr files: the
 * runtime has a terminal nearby without any of its stdio being one. Returns the result and the pty's
 * master (tracked, non-blocking) to see what reached that terminal.
 */
function runtimeWithControllingTerminal(
  args: string[],
  opts: { rows?: number; cols?: number; timeoutMs?: number } = {},
): { master: number; result: Promise<RunResult> } {
  const { file, prefix } = runtimeCommand();
  const argv = [...prefix, '--root', s.rt.root, ...args];
  const pty = openPtyPair();
  track(pty.master);
  track(pty.slave);
  setWindowSize(pty.master, opts.rows ?? 24, opts.cols ?? 80);
  setNonBlocking(pty.master);
  const io = s.tmpDir('io');
  const outPath = path.join(io, 'out');
  const errPath = path.join(io, 'err');
  const outFd = fs.openSync(outPath, 'w+');
  const errFd = fs.openSync(errPath, 'w+');
  const wrapper = ['--ctty', 'sh', '-c', 'exec "$@" </dev/null', 'sh', file, ...argv];
  const child = spawn('setsid', wrapper, { stdio: [pty.slave, outFd, errFd] });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  // Only the runtime holds the slave now: the master sees EIO once it and its children let go.
  closeFd(pty.slave);
  const result = new Promise<RunResult>((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, opts.timeoutMs ?? 20_000);
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: string): void => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? null : code,
        signal,
        stdout: fs.readFileSync(outPath, 'utf8'),
        stderr: error ?? fs.readFileSync(errPath, 'utf8'),
        timedOut,
        argv: ['setsid', ...wrapper],
      });
    };
    child.on('error', (err) => finish(null, null, String(err)));
    child.on('exit', (code, signal) => finish(code, signal));
  });
  return { master: pty.master, result };
}

// ------------------------------------------------------------------------------------------------------

describe('run in the foreground with process.terminal', () => {
  test('the program gets a pty of the container devpts; output and exit status pass through (stdin not a tty)', async () => {
    // runc's foreground relay now and then makes the first TCGETS fail (ECHILD, seen once in five runs): retry.
    const b = await terminalBundle('tty; for i in 1 2 3 4 5; do stty size && break; sleep 0.1; done; echo done');
    const id = s.id();
    const { master, result } = runtimeWithControllingTerminal(['run', '--bundle', b.dir, id], { rows: 31, cols: 97 });
    const r = await result;
    expectOk(r);
    const out = lines(r.stdout);
    expect(out, describeResult(r)).toContain('/dev/pts/0');
    const size = out.find((l) => /^\d+ \d+$/.test(l));
    expect(size, describeResult(r)).toBeDefined();
    const [rows, cols] = size!.split(' ').map(Number);
    expect(rows, describeResult(r)).toBeGreaterThan(0);
    expect(cols, describeResult(r)).toBeGreaterThan(0);
    expect(out, describeResult(r)).toContain('done');
    // The program's output went to the runtime's stdout, not to the terminal the runtime sits on.
    const { text } = await readMaster(master, { timeoutMs: 200 });
    expect(text).not.toContain('done');
    closeFd(master);
    // run removes the container when it ends.
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
  });

  test('the exit status of the program is run\'s', async () => {
    const b = await terminalBundle('echo bye; exit 5');
    const { master, result } = runtimeWithControllingTerminal(['run', '--bundle', b.dir, s.id()]);
    const r = await result;
    expect(r.code, describeResult(r)).toBe(5);
    expect(lines(r.stdout)).toContain('bye');
    closeFd(master);
  });

  test('with no terminal on the host side at all', async () => {
    const b = await terminalBundle('tty; echo done');
    const id = s.id();
    const r = await s.runFg(b, id);
    if (RUN_TERMINAL_NEEDS_HOST_TERMINAL) {
      // runc: "runc run failed: open /dev/tty: no such device or address", and nothing is left.
      expectError(r, /\/dev\/tty/);
    } else {
      expectOk(r);
      expect(lines(r.stdout), describeResult(r)).toEqual(expect.arrayContaining(['/dev/pts/0', 'done']));
    }
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect(findPrefixedCgroups(id)).toEqual([]);
  });
});

describe('create --console-socket', () => {
  test('the receiver gets one fd, the pty master of the container devpts; size set there is the program\'s', async () => {
    const sock = consoleSocket();
    const b = await terminalBundle('tty; stty size');
    const id = s.id();
    const { master, payload } = await receiveConsole(sock, s.create(b, id, ['--console-socket', sock.path]));
    closeFd(sock.listener);
    expect(payload.length).toBeGreaterThan(0);

    // A pty master: the multiplexer device, here of a devpts instance that is not the host's.
    expect(fs.readlinkSync(`/proc/self/fd/${master}`)).toMatch(/(^|\/)ptmx$/);
    const st = fs.fstatSync(master);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(fs.statSync('/dev/ptmx').rdev); // 5:2
    expect(st.dev).not.toBe(fs.statSync('/dev/pts/ptmx').dev);
    expect(st.dev).not.toBe(fs.statSync('/dev/ptmx').dev);

    setWindowSize(master, 33, 101);
    expect(getWindowSize(master)).toEqual({ rows: 33, cols: 101 });
    setNonBlocking(master);
    expect((await s.rt.state(id)).status).toBe('created');
    // Nothing runs before start.
    expect((await readMaster(master, { timeoutMs: 100 })).text).toBe('');

    expectOk(await s.rt.exec(['start', id]));
    const { text, eof } = await readMaster(master);
    expect(eof, JSON.stringify(text)).toBe(true);
    expect(lines(text)).toEqual(expect.arrayContaining(['/dev/pts/0', '33 101']));
    closeFd(master);

    await s.rt.waitForStatus(id, 'stopped');
    expectOk(await s.rt.exec(['delete', id]));
  });

  test('process.consoleSize is the size the program starts with', async () => {
    const sock = consoleSocket();
    const b = await terminalBundle('stty size', (spec) => {
      spec.process.consoleSize = { height: 41, width: 123 };
    });
    const id = s.id();
    const { master } = await receiveConsole(sock, s.create(b, id, ['--console-socket', sock.path]));
    closeFd(sock.listener);
    setNonBlocking(master);
    expectOk(await s.rt.exec(['start', id]));
    const { text, eof } = await readMaster(master);
    expect(eof, JSON.stringify(text)).toBe(true);
    expect(lines(text)).toContain('41 123');
    closeFd(master);
    await s.rt.waitForStatus(id, 'stopped');
  });

  test('the pty is the controlling terminal: input arrives, ^C is SIGINT, /dev/tty is the pty', async () => {
    const sock = consoleSocket();
    const b = await terminalBundle(
      'trap "echo got-int; exit 7" INT; echo via-dev-tty > /dev/tty; read line; echo "got:$line"; echo ready; while :; do sleep 0.1; done',
    );
    const id = s.id();
    const { master } = await receiveConsole(sock, s.create(b, id, ['--console-socket', sock.path]));
    closeFd(sock.listener);
    setWindowSize(master, 24, 80);
    setNonBlocking(master);
    expectOk(await s.rt.exec(['start', id]));

    let seen = await readMaster(master, { until: (t) => t.includes('via-dev-tty') });
    expect(lines(seen.text), JSON.stringify(seen.text)).toContain('via-dev-tty');
    fs.writeSync(master, 'hello\n');
    seen = await readMaster(master, { until: (t) => t.includes('ready') });
    expect(lines(seen.text), JSON.stringify(seen.text)).toContain('got:hello');

    fs.writeSync(master, '\x03');
    const end = await readMaster(master);
    expect(end.text, JSON.stringify(end.text)).toContain('got-int');
    expect(end.eof).toBe(true);
    closeFd(master);
    await s.rt.waitForStatus(id, 'stopped');
  });
  test('run --detach --console-socket: the receiver gets the master, the program runs at once', async () => {
    const sock = consoleSocket();
    const b = await terminalBundle('tty; echo detached-ok');
    const id = s.id();
    const { master } = await receiveConsole(sock, s.rt.exec(['run', '--detach', '--bundle', b.dir, '--console-socket', sock.path, id]));
    closeFd(sock.listener);
    setNonBlocking(master);
    const { text, eof } = await readMaster(master);
    expect(eof, JSON.stringify(text)).toBe(true);
    expect(lines(text)).toEqual(expect.arrayContaining(['/dev/pts/0', 'detached-ok']));
    closeFd(master);
    await s.rt.waitForStatus(id, 'stopped');
    expectOk(await s.rt.exec(['delete', id]));
  });
});

describe('terminal errors', () => {
  function listing(dir: string): string[] {
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }

  async function expectNothingLeft(id: string, rootBefore: string[]): Promise<void> {
    expect((await s.rt.exec(['state', id])).code).not.toBe(0);
    expect((await s.rt.list()).map((c) => c.id)).not.toContain(id);
    expect(listing(s.rt.root)).toEqual(rootBefore);
    expect(findPrefixedCgroups(id)).toEqual([]);
  }

  test('create of a terminal container without --console-socket fails, leaving nothing', async () => {
    const b = await terminalBundle('true');
    const id = s.id();
    const before = listing(s.rt.root);
    // runc: "cannot allocate tty if runc will detach without setting console socket"
    expectError(await s.create(b, id), /console.socket/i);
    await expectNothingLeft(id, before);
  });

  test('run --detach of a terminal container without --console-socket fails, leaving nothing', async () => {
    const b = await terminalBundle('true');
    const id = s.id();
    const before = listing(s.rt.root);
    expectError(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]), /console.socket/i);
    await expectNothingLeft(id, before);
  });

  test('--console-socket without process.terminal is refused before connecting', async () => {
    const sock = consoleSocket();
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
    });
    const id = s.id();
    const before = listing(s.rt.root);
    // runc: "cannot use console socket if runc will not detach or allocate tty"
    expectError(await s.create(b, id, ['--console-socket', sock.path]), /console socket/i);
    expect(pollReadable(sock.listener, 0), 'the runtime connected anyway').toBe(false);
    closeFd(sock.listener);
    await expectNothingLeft(id, before);
  });

  // runc refuses --console-socket on a foreground run ("cannot use console socket if runc will not
  // detach or allocate tty"); tslab-runtime currently sends the master there and runs to completion
  // (exit 0). Skipped for tslab until that is settled.
  test('a foreground run with --console-socket is refused before connecting', async () => {
    const sock = consoleSocket();
    const b = await terminalBundle('echo should-not-run');
    const id = s.id();
    const before = listing(s.rt.root);
    expectError(await s.runFg(b, id, ['--console-socket', sock.path]), /console socket/i);
    expect(pollReadable(sock.listener, 0), 'the runtime connected anyway').toBe(false);
    closeFd(sock.listener);
    await expectNothingLeft(id, before);
  });

  test('a --console-socket nobody listens on fails the create, leaving nothing', async () => {
    const dir = s.tmpDir('console');
    const b = await terminalBundle('true');
    const id = s.id();
    const before = listing(s.rt.root);
    expectError(await s.create(b, id, ['--console-socket', path.join(dir, 'missing.sock')]), /missing\.sock|no such file/i);
    await expectNothingLeft(id, before);
  });
});

describe('without a terminal', () => {
  test('the init leads its own session: /dev/tty inside is not the runtime\'s controlling terminal', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sh', '-c', 'cat /proc/self/stat; echo leaked > /dev/tty && echo wrote-tty'];
    });
    const { master, result } = runtimeWithControllingTerminal(['run', '--bundle', b.dir, s.id()]);
    const r = await result;
    // The write failed (no controlling terminal: ENXIO), so sh reports it and exits non-zero.
    expect(r.timedOut, describeResult(r)).toBe(false);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stdout, describeResult(r)).not.toContain('wrote-tty');
    expect(r.stderr, describeResult(r)).toMatch(/\/dev\/tty/);
    // cat's stat: session (field 6) is the container's PID 1, tty_nr (field 7) is none.
    const stat = lines(r.stdout).find((l) => /^\d+ \(cat\) /.test(l));
    expect(stat, describeResult(r)).toBeDefined();
    const fields = stat!.slice(stat!.lastIndexOf(')') + 2).split(' ');
    expect(fields[3], `session of ${stat}`).toBe('1');
    expect(fields[4], `tty_nr of ${stat}`).toBe('0');
    // And nothing reached the terminal the runtime sits on.
    expect((await readMaster(master, { timeoutMs: 200 })).text).not.toContain('leaked');
    closeFd(master);
  });
});
