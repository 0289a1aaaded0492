// What /proc/<pid>/stat says about a process (src/linux/proc.ts): the parser must survive command
// names with spaces and parentheses, and "alive" must mean the same process (start time) and not a zombie.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { isAlive, readProcStat, waitForExit } from '../../src/linux/proc.js';

let tmp: string;
let started: ChildProcess[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-proc-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  // Only the processes this file started, by their own handles.
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  started = [];
});

const SLEEP = fs.existsSync('/bin/sleep') ? '/bin/sleep' : '/usr/bin/sleep';

function track(child: ChildProcess): ChildProcess {
  started.push(child);
  return child;
}

/** The raw fields of /proc/<pid>/stat after the command name, numbered as in proc(5) (state is 3). */
function statFields(pid: number): { comm: string; field: (n: number) => string } {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).trim().split(' ');
  return { comm: text.slice(open + 1, close), field: (n: number) => rest[n - 3] };
}

/** Starts `sleep` through a symlink whose name becomes the process's command name (comm). */
function sleeperNamed(name: string, seconds = 100): ChildProcess {
  const link = path.join(tmp, name);
  fs.rmSync(link, { force: true });
  fs.symlinkSync(SLEEP, link);
  return track(spawn(link, [String(seconds)], { stdio: 'ignore' }));
}

async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the process has exec'd as `comm` and sleeps (state S). */
async function execd(pid: number, comm: string): Promise<void> {
  await waitUntil(() => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd() === comm && statFields(pid).field(3) === 'S';
    } catch {
      return false;
    }
  }, `pid ${pid} to exec as ${comm} and sleep`);
}

describe('readProcStat', () => {
  it('reads state and start time of this process', () => {
    const st = readProcStat(process.pid);
    expect(st).toBeDefined();
    expect(st!.state).toBe('R'); // we are running while we read it
    expect(st!.startTime).toBe(Number(statFields(process.pid).field(22)));
    expect(Number.isInteger(st!.startTime)).toBe(true);
    expect(st!.startTime).toBeGreaterThan(0);
  });

  it('returns undefined for a pid that does not exist', () => {
    // Above any pid_max the kernel allows (2^22).
    expect(readProcStat(2 ** 30)).toBeUndefined();
    expect(isAlive(2 ** 30, 1)).toBe(false);
  });

  // A comm (at most 15 bytes) built to fool a parser that stops at the first ')' or splits on spaces.
  it.each([
    ['a b) c', 'spaces and a parenthesis'],
    ['x) Z 1 2 3 (', 'a fake ") Z" state field'],
    ['((()))', 'only parentheses'],
    [') ) )', 'starts with ")"'],
    ['tail)', 'ends with ")"'],
  ])('parses a command name %j (%s)', async (name) => {
    const child = sleeperNamed(name);
    await execd(child.pid!, name);
    const { comm, field } = statFields(child.pid!);
    expect(comm).toBe(name);
    const st = readProcStat(child.pid!);
    expect(st).toEqual({ state: 'S', startTime: Number(field(22)) });
    // The start time is a real one: not after "now" in clock ticks since boot.
    const uptimeTicks = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100;
    expect(st!.startTime).toBeLessThanOrEqual(uptimeTicks + 100);
    expect(st!.startTime).toBeGreaterThanOrEqual(readProcStat(process.pid)!.startTime);
    expect(isAlive(child.pid!, st!.startTime)).toBe(true);
  });

  it('parses a name given with exec -a (argv[0] only; comm is the file name)', async () => {
    const child = track(spawn('bash', ['-c', `exec -a 'a b) c' ${SLEEP} 100`], { stdio: 'ignore' }));
    await execd(child.pid!, 'sleep');
    expect(fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0')[0]).toBe('a b) c');
    expect(readProcStat(child.pid!)?.state).toBe('S');
  });
});

describe('isAlive', () => {
  it('is true for the same process and false for another start time (a recycled pid)', async () => {
    const child = sleeperNamed('alive');
    await execd(child.pid!, 'alive');
    const { startTime } = readProcStat(child.pid!)!;
    expect(isAlive(child.pid!, startTime)).toBe(true);
    expect(isAlive(child.pid!, startTime + 1)).toBe(false);
    expect(isAlive(child.pid!, startTime - 1)).toBe(false);
    expect(isAlive(child.pid!, 0)).toBe(false);
  });

  it('is false for a zombie', async () => {
    // `sh` starts a short sleep in the background and execs into a long one, which never reaps: once the
    // short one ends (after the exec, so the shell cannot reap it) it stays a zombie.
    const parent = track(spawn('sh', ['-c', `${SLEEP} 0.3 & echo $!; exec ${SLEEP} 100`], { stdio: ['ignore', 'pipe', 'ignore'] }));
    const zombie = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      parent.once('exit', () => reject(new Error(`sh exited early: ${out}`)));
    });
    await waitUntil(() => readProcStat(zombie)?.state === 'Z', `pid ${zombie} to become a zombie`);
    const st = readProcStat(zombie)!;
    expect(st.state).toBe('Z');
    expect(st.startTime).toBeGreaterThan(0);
    expect(isAlive(zombie, st.startTime)).toBe(false);
    expect(waitForExit(zombie, st.startTime, 1000)).toBe(true);
    // The zombie's parent is the sleep we started: killing it (in afterEach) lets init reap the zombie.
    expect(Number(statFields(zombie).field(4))).toBe(parent.pid);
  });
});

describe('waitForExit', () => {
  it('returns true at once for a process that is already gone', () => {
    const start = Date.now();
    expect(waitForExit(2 ** 30, 1, 5000)).toBe(true);
    expect(Date.now() - start).toBeLessThan(500);
  });

  it('returns true at once when the pid now belongs to another process', async () => {
    const child = sleeperNamed('recycled');
    await execd(child.pid!, 'recycled');
    const { startTime } = readProcStat(child.pid!)!;
    const start = Date.now();
    expect(waitForExit(child.pid!, startTime + 7, 5000)).toBe(true);
    expect(Date.now() - start).toBeLessThan(500);
  });

  it('gives up after the timeout while the process lives', async () => {
    const child = sleeperNamed('stays');
    await execd(child.pid!, 'stays');
    const { startTime } = readProcStat(child.pid!)!;
    const start = Date.now();
    expect(waitForExit(child.pid!, startTime, 300)).toBe(false);
    const took = Date.now() - start;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(3000);
    expect(isAlive(child.pid!, startTime)).toBe(true);
  });

  it('returns true once the process exits (even before it is reaped)', async () => {
    const child = sleeperNamed('short', 0.3);
    await execd(child.pid!, 'short');
    const { startTime } = readProcStat(child.pid!)!;
    const start = Date.now();
    // waitForExit blocks this thread, so Node cannot reap the child: it is seen as a zombie.
    expect(waitForExit(child.pid!, startTime, 10_000)).toBe(true);
    const took = Date.now() - start;
    expect(took).toBeGreaterThanOrEqual(100);
    expect(took).toBeLessThan(5000);
  });

  it('returns true after the process is killed', async () => {
    const child = sleeperNamed('killed');
    await execd(child.pid!, 'killed');
    const { startTime } = readProcStat(child.pid!)!;
    child.kill('SIGKILL');
    expect(waitForExit(child.pid!, startTime, 5000)).toBe(true);
    expect(isAlive(child.pid!, startTime)).toBe(false);
  });
});
