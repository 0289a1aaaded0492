// The lab's commands in a container (a container cell, a check's inContainer): run through the runtime's exec
// from the lab's own process. Their output and status come back; one that outlives its deadline is ended
// with its process group, and the call returns, even when the program never got started. The container here
// is a process of the test's own in new namespaces (no lesson state is touched).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runInContainer } from '../../src/lab/commands.js';
import { testRun } from '../helpers/bundle.js';
import { waitFor } from '../helpers/kernel.js';

const UNIFIED = '/sys/fs/cgroup/unified';
const CGROUP2 = fs.existsSync(path.join(UNIFIED, 'cgroup.procs')) ? UNIFIED : '/sys/fs/cgroup';

let holder: ChildProcess;
let init = 0;

/** The pids whose command line is exactly `argv` (the test's own, found by a marker no other process has). */
function pidsRunning(argv: string[]): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${argv.join('\0')}\0`;
    } catch {
      return false;
    }
  });
}

beforeAll(async () => {
  holder = spawn('unshare', ['--uts', '--ipc', '--net', '--pid', '--fork', '--kill-child', 'sleep', '1000'], { stdio: 'ignore' });
  await waitFor(() => {
    const children = fs.readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8').trim();
    init = Number(children.split(' ')[0]);
    return init > 0;
  }, 5000, 'the container\'s init');
});

afterAll(async () => {
  holder?.kill('SIGKILL');
  if (holder && holder.exitCode === null && holder.signalCode === null) await new Promise((r) => holder.once('exit', r));
});

describe('runInContainer', () => {
  test('runs in the container\'s namespaces; output and exit status come back', async () => {
    const r = await runInContainer(init, [], ['/bin/sh', '-c', 'echo $$; readlink /proc/self/ns/uts; echo oops >&2; exit 3']);
    expect(r.code).toBe(3);
    const [pid, uts] = r.stdout.trim().split('\n');
    expect(Number(pid)).toBeGreaterThan(1); // a pid of the container's PID namespace, not the host's
    expect(uts).toBe(fs.readlinkSync(`/proc/${init}/ns/uts`));
    expect(r.stderr).toBe('oops\n');
  });

  test('a command that ends at once: its output and status come back every time', { timeout: 60_000 }, async () => {
    // It can end while its start is still being wound up, and when a child exits Node throws away what nobody
    // has read: output must be read from the spawn on. Seen in CI as lesson 8 checks that never ended and a
    // lesson 12 check that got no output from `ls -ln`. It takes a busy machine (npm test is one): with two CPU
    // hogs beside it, it failed within a few rounds.
    for (let i = 0; i < 25; i++) {
      const r = await runInContainer(init, [], ['/bin/sh', '-c', 'exit 4'], { timeoutMs: 5000 });
      expect(r, `run ${i}`).toEqual({ code: 4, stdout: '', stderr: '' });
      const printed = await runInContainer(init, [], ['/bin/sh', '-c', 'echo out; echo err >&2'], { timeoutMs: 5000 });
      expect(printed, `run ${i}, printing`).toEqual({ code: 0, stdout: 'out\n', stderr: 'err\n' });
    }
  });

  test('past its deadline the command and what it started are ended, and the call returns', async () => {
    const marker = ['sleep', '4242'];
    const started = Date.now();
    const r = await runInContainer(init, [], ['/bin/sh', '-c', `${marker.join(' ')} & ${marker.join(' ')}; wait`], { timeoutMs: 500 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(/timed out after 500 ms/);
    await waitFor(() => pidsRunning(marker).length === 0, 5000, 'the sleeps to be gone');
  });

  test('a start that never reaches the program (its cgroup is frozen) is given up at the deadline, its stage ended', async () => {
    const frozen = path.join(CGROUP2, `${testRun().prefix}-frozen`);
    fs.mkdirSync(frozen);
    try {
      fs.writeFileSync(path.join(frozen, 'cgroup.freeze'), '1');
      const started = Date.now();
      const r = await runInContainer(init, [frozen], ['echo', 'never'], { timeoutMs: 1000 });
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/cannot run it in the container: it did not start within 1000 ms/);
      expect(Date.now() - started).toBeLessThan(8000);
      // The stage joined the frozen cgroup and was killed there (cgroup v2 lets SIGKILL through a freeze).
      await waitFor(() => fs.readFileSync(path.join(frozen, 'cgroup.procs'), 'utf8').trim() === '', 5000, 'the stage to be gone');
    } finally {
      fs.writeFileSync(path.join(frozen, 'cgroup.freeze'), '0');
      await waitFor(() => fs.readFileSync(path.join(frozen, 'cgroup.procs'), 'utf8').trim() === '', 5000, 'the frozen cgroup to empty');
      fs.rmdirSync(frozen);
    }
  });

  test('a container that is gone: status 125 and why', async () => {
    const r = await runInContainer(999_999_999, [], ['true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/cannot run it in the container: no process 999999999/);
  });
});
