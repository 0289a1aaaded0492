// Terminal building blocks against the real kernel: fd passing over unix sockets (SCM_RIGHTS), pty pairs,
// window sizes, and the master relay with a real program on the slave. Every fd made here is closed and
// every child spawned here is waited for (killed by pid if a test fails half-way).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { SyscallError } from '../../src/linux/error.js';
import { getWindowSize, makeControllingTerminal, openPtyPair, setOutputPostProcessing, setWindowSize } from '../../src/linux/pty.js';
import { connectUnix, recvFd, sendFd, socketpair } from '../../src/linux/socket.js';
import { relayTerminal } from '../../src/runtime/terminal/relay.js';
import { exited, ptyFds } from '../helpers/kernel-tests.js';

const provided = (inject as unknown as (key: string) => { base?: string } | undefined)('tslabTest');
let dir = '';

// --- bookkeeping: fds and children this file made ------------------------------------------------
const openFds = new Set<number>();
const children: ChildProcess[] = [];
let ttyFdsBefore: string[] = [];

function track<T extends number>(fd: T): T {
  openFds.add(fd);
  return fd;
}
function closeFd(fd: number): void {
  fs.closeSync(fd);
  openFds.delete(fd);
}
/** The relay owns (and closes) the master: stop tracking it. */
function handOver(fd: number): number {
  openFds.delete(fd);
  return fd;
}

function fdFlags(fd: number): number {
  const line = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith('flags:'));
  return parseInt(line!.split(/\s+/)[1]!, 8);
}
const O_CLOEXEC = 0o2000000;

/** Runs `script` in /bin/sh on a fresh pty's slave (its own session), the parent keeping only the master. */
function spawnOnPty(script: string): { child: ChildProcess; master: number; slavePath: string } {
  const pty = openPtyPair();
  track(pty.master);
  track(pty.slave);
  const child = spawn('/bin/sh', ['-c', script], { stdio: [pty.slave, pty.slave, pty.slave], detached: true });
  children.push(child);
  // The master sees EOF (EIO) only once every slave fd is closed: ours must go now.
  closeFd(pty.slave);
  return { child, master: pty.master, slavePath: pty.slavePath };
}

function collect(stream: Readable): { text: () => string } {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}

const asStdin = (s: Readable): NodeJS.ReadStream => s as unknown as NodeJS.ReadStream;
const asStdout = (s: Writable): NodeJS.WriteStream => s as unknown as NodeJS.WriteStream;

/** Resolves once `get()` contains `needle` (polling), so a test can act on what the program printed. */
async function waitFor(get: () => string, needle: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!get().includes(needle)) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${JSON.stringify(needle)} in ${JSON.stringify(get())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(() => {
  const base = provided?.base ?? path.join(os.tmpdir(), `tslabtest-${randomBytes(3).toString('hex')}`);
  dir = path.join(base, 'terminal');
  fs.mkdirSync(dir, { recursive: true });
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  ttyFdsBefore = ptyFds();
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await exited(child).catch(() => undefined);
  }
  const leftover = [...openFds];
  for (const fd of leftover) closeFd(fd);
  expect(leftover, 'fds left open by the test').toEqual([]);
  expect(ptyFds(), 'pty fds of this process').toEqual(ttyFdsBefore);
});

describe('fd passing (SCM_RIGHTS)', () => {
  it('socketpair gives two connected close-on-exec stream sockets', () => {
    const [a, b] = socketpair().map(track) as [number, number];
    expect(a).not.toBe(b);
    expect(fdFlags(a) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(fdFlags(b) & O_CLOEXEC).toBe(O_CLOEXEC);
    fs.writeSync(a, 'ping');
    const buf = Buffer.alloc(8);
    expect(fs.readSync(b, buf, 0, 8, null)).toBe(4);
    expect(buf.toString('utf8', 0, 4)).toBe('ping');
    closeFd(a);
    closeFd(b);
  });

  it('sendFd/recvFd hands over a working fd with its payload', () => {
    const [a, b] = socketpair().map(track) as [number, number];
    const file = path.join(dir, 'passed.txt');
    const original = track(fs.openSync(file, 'w+'));

    sendFd(a, original, '/dev/ptmx');
    const got = recvFd(b);
    track(got.fd);
    expect(got.payload).toBe('/dev/ptmx');
    expect(got.fd).not.toBe(original);
    expect(fdFlags(got.fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(fs.readlinkSync(`/proc/self/fd/${got.fd}`)).toBe(file);

    // Same open file description: what is written through the received fd is read through the original.
    fs.writeSync(got.fd, 'through the socket');
    const buf = Buffer.alloc(64);
    const n = fs.readSync(original, buf, 0, buf.length, 0);
    expect(buf.toString('utf8', 0, n)).toBe('through the socket');

    for (const fd of [got.fd, original, a, b]) closeFd(fd);
  });

  it('sendFd refuses an empty payload; recvFd reports a peer that closed without an fd', () => {
    const [a, b] = socketpair().map(track) as [number, number];
    expect(() => sendFd(a, b, '')).toThrow(/at least one byte/);
    closeFd(a);
    let err: unknown;
    try {
      recvFd(b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).message).toMatch(/without sending an fd/);
    closeFd(b);
  });

  it('recvFd refuses a payload without fd and a message with two fds, closing what came', () => {
    let python = true;
    try {
      execFileSync('python3', ['-c', 'import socket; socket.send_fds'], { stdio: 'ignore' });
    } catch {
      python = false;
    }
    const [a, b] = socketpair().map(track) as [number, number];

    fs.writeSync(a, 'no fd here');
    expect(() => recvFd(b)).toThrow(/exactly one fd.*got 0/);

    if (python) {
      // Python sends two fds (its stdin and stdout, /dev/null) in one message over our socket (its fd 3).
      execFileSync(
        'python3',
        ['-c', 'import socket; s = socket.socket(fileno=3); socket.send_fds(s, [b"x"], [0, 1]); s.detach()'],
        { stdio: ['ignore', 'ignore', 'inherit', a] },
      );
      const fdsBefore = fs.readdirSync('/proc/self/fd').length;
      expect(() => recvFd(b)).toThrow(/exactly one fd.*got 2/);
      expect(fs.readdirSync('/proc/self/fd').length).toBe(fdsBefore); // both received fds were closed again
    }
    closeFd(a);
    closeFd(b);
  });

  it('connectUnix reaches a listening socket and sendFd delivers the payload (runc console-socket shape)', async () => {
    const sockPath = path.join(dir, 'console.sock');
    const received: Buffer[] = [];
    const server = net.createServer((conn) => {
      conn.on('data', (d: Buffer) => received.push(d));
    });
    await new Promise<void>((resolve) => server.listen(sockPath, resolve));
    try {
      // A unix connect completes against the listen backlog, so the blocking call returns at once.
      const sock = track(connectUnix(sockPath));
      expect(fdFlags(sock) & O_CLOEXEC).toBe(O_CLOEXEC);
      const file = track(fs.openSync(path.join(dir, 'x'), 'w'));
      sendFd(sock, file, '/dev/ptmx');
      closeFd(file);
      closeFd(sock);
      await waitFor(() => Buffer.concat(received).toString(), '/dev/ptmx');
      expect(Buffer.concat(received).toString()).toBe('/dev/ptmx');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(() => connectUnix(path.join(dir, 'missing.sock'))).toThrow(/ENOENT/);
    expect(() => connectUnix(`/${'x'.repeat(120)}`)).toThrow(/ENAMETOOLONG/);
  });
});

describe('pty pairs', () => {
  it('openPtyPair: what the slave writes, the master reads (with the line discipline in between)', () => {
    const { master, slave, slavePath } = openPtyPair();
    track(master);
    track(slave);
    expect(slavePath).toMatch(/^\/dev\/pts\/\d+$/);
    expect(fs.readlinkSync(`/proc/self/fd/${slave}`)).toBe(slavePath);
    expect(fs.readlinkSync(`/proc/self/fd/${master}`)).toBe('/dev/ptmx');
    expect(fdFlags(master) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(fdFlags(slave) & O_CLOEXEC).toBe(O_CLOEXEC);

    fs.writeSync(slave, 'hello\n');
    const buf = Buffer.alloc(64);
    const n = fs.readSync(master, buf, 0, buf.length, null);
    expect(buf.toString('utf8', 0, n)).toBe('hello\r\n'); // ONLCR

    // And the other way: a line typed on the master arrives on the slave (echoed back to the master too).
    fs.writeSync(master, 'typed\n');
    const m = fs.readSync(slave, buf, 0, buf.length, null);
    expect(buf.toString('utf8', 0, m)).toBe('typed\n');

    closeFd(slave);
    closeFd(master);
  });

  it('window size: set on the master, read on either side', () => {
    const { master, slave } = openPtyPair();
    track(master);
    track(slave);
    expect(getWindowSize(slave)).toEqual({ rows: 0, cols: 0 });
    setWindowSize(master, 33, 101);
    expect(getWindowSize(slave)).toEqual({ rows: 33, cols: 101 });
    expect(getWindowSize(master)).toEqual({ rows: 33, cols: 101 });
    closeFd(slave);
    closeFd(master);
    expect(() => getWindowSize(master)).toThrow(/EBADF/);
  });

  it('openPtyPair reports a missing ptmx; window-size calls on a non-terminal say ENOTTY', () => {
    expect(() => openPtyPair(path.join(dir, 'no-ptmx'))).toThrow(/ENOENT/);
    const file = track(fs.openSync(path.join(dir, 'plain'), 'w'));
    expect(() => setWindowSize(file, 1, 1)).toThrow(/ENOTTY/);
    closeFd(file);
  });

  it('setOutputPostProcessing turns "\\n" -> "\\r\\n" off and on again', () => {
    const { master, slave } = openPtyPair();
    track(master);
    track(slave);
    const buf = Buffer.alloc(16);
    const roundTrip = (): string => {
      fs.writeSync(slave, 'a\n');
      return buf.toString('utf8', 0, fs.readSync(master, buf, 0, buf.length, null));
    };
    expect(setOutputPostProcessing(slave, false)).toBe(true);
    expect(roundTrip()).toBe('a\n');
    expect(setOutputPostProcessing(slave, false)).toBe(false);
    expect(setOutputPostProcessing(slave, true)).toBe(false);
    expect(roundTrip()).toBe('a\r\n');
    closeFd(slave);
    closeFd(master);
  });

  it('makeControllingTerminal without setsid() is EPERM (this process is no session leader)', () => {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const sid = Number(fields[3]);
    const { master, slave } = openPtyPair();
    track(master);
    track(slave);
    try {
      if (sid !== process.pid) expect(() => makeControllingTerminal(slave)).toThrow(/EPERM.*setsid/);
    } finally {
      closeFd(slave);
      closeFd(master);
    }
  });
});

describe('relayTerminal', () => {
  it('a program on the slave: output, tty name and the default 24x80 size reach a non-TTY stdout', async () => {
    // A new pty is 0x0 until the relay sizes it: the program waits for that rather than racing it.
    const { child, master, slavePath } = spawnOnPty('while [ "$(stty size)" = "0 0" ]; do sleep 0.01; done; stty size; tty; echo hi');
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const out = collect(stdout);
    const relay = relayTerminal(handOver(master), { stdin: asStdin(stdin), stdout: asStdout(stdout) });
    await relay.done;
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(out.text()).toBe(`24 80\r\n${slavePath}\r\n` + 'hi\r\n');
    relay.close(); // idempotent after the end
    expect(stdin.isPaused()).toBe(true);
  });

  it('takes the size of a TTY stdout, and resize() passes a new size on', async () => {
    const { child, master } = spawnOnPty('while [ "$(stty size)" = "0 0" ]; do sleep 0.01; done; stty size; read line; stty size; echo "got:$line"');
    const stdin = new PassThrough();
    const stdout = Object.assign(new PassThrough(), { isTTY: true, rows: 40, columns: 120 });
    const out = collect(stdout);
    const relay = relayTerminal(handOver(master), { stdin: asStdin(stdin), stdout: asStdout(stdout) });
    await waitFor(out.text, '40 120\r\n');
    stdout.rows = 50;
    stdout.columns = 132;
    relay.resize();
    stdin.write('typed\n');
    await relay.done;
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    // "typed" appears twice: the line discipline echoes it, then the program prints it.
    expect(out.text()).toBe('40 120\r\ntyped\r\n50 132\r\ngot:typed\r\n');
  });

  it('a TTY stdin goes raw (output processing off too) for the session and is restored at the end', async () => {
    // The "user's terminal" is another pty: its slave plays stdin; its master shows what the user would see.
    const user = openPtyPair();
    track(user.master);
    track(user.slave);
    const rawCalls: boolean[] = [];
    const stdin = Object.assign(new PassThrough(), {
      isTTY: true,
      isRaw: false,
      fd: user.slave,
      setRawMode(mode: boolean) {
        rawCalls.push(mode);
        this.isRaw = mode;
        return this;
      },
    });
    const buf = Buffer.alloc(16);
    const userSees = (text: string): string => {
      fs.writeSync(user.slave, text);
      return buf.toString('utf8', 0, fs.readSync(user.master, buf, 0, buf.length, null));
    };
    const { child, master } = spawnOnPty('read line; echo "got:$line"');
    const stdout = new PassThrough();
    const out = collect(stdout);
    const relay = relayTerminal(handOver(master), { stdin: asStdin(stdin), stdout: asStdout(stdout) });
    expect(rawCalls).toEqual([true]);
    expect(userSees('x\n')).toBe('x\n'); // OPOST off while relaying
    stdin.write('y\r'); // Enter in raw mode is CR; the program's line discipline makes it a newline
    await relay.done;
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(out.text()).toBe('y\r\ngot:y\r\n');
    expect(rawCalls).toEqual([true, false]);
    expect(userSees('x\n')).toBe('x\r\n'); // restored
    closeFd(user.slave);
    closeFd(user.master);
  });

  it('stdin from a file (not a TTY) reaches the program', async () => {
    const input = path.join(dir, 'input.txt');
    fs.writeFileSync(input, 'first\nsecond\n');
    const { child, master } = spawnOnPty('stty -echo; read a; read b; echo "[$b|$a]"');
    const stdin = fs.createReadStream(input);
    const stdout = new PassThrough();
    const out = collect(stdout);
    const relay = relayTerminal(handOver(master), { stdin: asStdin(stdin), stdout: asStdout(stdout) });
    await relay.done;
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(out.text()).toContain('[second|first]\r\n');
    stdin.destroy();
  });

  it('Ctrl-C travels as a byte and the pty line discipline turns it into SIGINT', async () => {
    // exec: the shell is replaced by sleep, the session leader and foreground process group of the pty.
    const { child, master } = spawnOnPty('exec 0<"$(tty)"; echo ready; exec sleep 30');
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const out = collect(stdout);
    const relay = relayTerminal(handOver(master), { stdin: asStdin(stdin), stdout: asStdout(stdout) });
    await waitFor(out.text, 'ready');
    stdin.write('\x03');
    await relay.done;
    expect(await exited(child)).toEqual({ code: null, signal: 'SIGINT' });
  });

  it('a large output arrives whole through a slow consumer (backpressure, nothing lost at the end)', async () => {
    const { child, master } = spawnOnPty('stty -onlcr; head -c 2000000 /dev/zero | tr "\\0" a; echo END');
    const stdin = new PassThrough();
    const stdout = new PassThrough({ highWaterMark: 1024 });
    let total = 0;
    let tail = '';
    stdout.on('data', (c: Buffer) => {
      total += c.length;
      tail = (tail + c.toString()).slice(-8);
      stdout.pause();
      setTimeout(() => stdout.resume(), 1);
    });
    const relay = relayTerminal(handOver(master), { stdin: asStdin(stdin), stdout: asStdout(stdout) });
    await relay.done;
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    // 'done' resolves when the last chunk was accepted; the consumer may still be reading it.
    await waitFor(() => String(total), String(2_000_000 + 4));
    expect(tail.endsWith('aaaEND\n')).toBe(true);
  });

  it('close() ends the relay early and closes the master: the program reading the slave sees its end', async () => {
    const { child, master } = spawnOnPty('echo ready; read line; echo "read ended: $?"; exit 7');
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const out = collect(stdout);
    const relay = relayTerminal(handOver(master), { stdin: asStdin(stdin), stdout: asStdout(stdout) });
    await waitFor(out.text, 'ready');
    relay.close();
    await relay.done;
    const result = await exited(child);
    // The hang-up of the master ends `read` (and may kill the shell with SIGHUP as session leader).
    expect(result.code === 7 || result.signal === 'SIGHUP').toBe(true);
  });
});
