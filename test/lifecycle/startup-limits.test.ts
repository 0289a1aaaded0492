// Limits meant for the container's program must not throttle the runtime's own work of making it. A CPU
// quota of 1 ms per second is the sharpest case: a runtime whose init does its set-up inside the container's
// cpu cgroup waits out a second for every millisecond of work. runc's Go init pays for its own (few) ms; the
// bound is relative to runc measured in the same test on the same bundle, never an absolute time.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { cgroupMount, cgroupPathOf, processExists, waitFor } from '../helpers/kernel.js';
import { describeResult, expectOk } from '../helpers/runtime.js';

const s = setupSuite('startup');

/** 1 ms of CPU per `periodUs` (default a second). */
function quota(spec: SpecJson, periodUs = 1_000_000): void {
  spec.linux.resources = { ...spec.linux.resources, cpu: { quota: 1000, period: periodUs } };
}

/** `runc --root <root> run --bundle <dir> <id>` to completion: its wall time in ms and exit status. */
function timeRunc(root: string, bundleDir: string, id: string): Promise<{ ms: number; code: number | null }> {
  const started = performance.now();
  const child = spawn('runc', ['--root', root, 'run', '--bundle', bundleDir, id], { stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ ms: performance.now() - started, code })));
}

describe('start-up under the container\'s own limits', () => {
  test('a CPU quota of 1 ms/s does not slow `run` of /bin/true much beyond what it costs runc', { timeout: 300_000 }, async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['/bin/true'];
      quota(spec);
    });
    const runcRoot = s.tmpDir('runc-root');
    const runcId = s.id('runc');
    s.defer(async () => {
      await new Promise((resolve) => spawn('runc', ['--root', runcRoot, 'delete', '--force', runcId], { stdio: 'ignore' }).once('exit', resolve));
    });
    const runc = await timeRunc(runcRoot, b.dir, runcId);
    expect(runc.code, 'runc run of /bin/true under the quota').toBe(0);
    // Generous: start-up noise and a slower exec path are fine; an init doing its own work under the quota
    // (tens of seconds here) is not.
    const boundMs = 3 * runc.ms + 5000;
    const started = performance.now();
    const r = await s.runFg(b, s.id(), [], { timeoutMs: boundMs });
    const ms = performance.now() - started;
    expectOk(r);
    console.log(`[cpu quota 1ms/1s] run /bin/true: ${s.rt.name} ${ms.toFixed(0)} ms, runc ${runc.ms.toFixed(0)} ms (bound ${boundMs.toFixed(0)} ms)`);
    expect(ms, `${s.rt.name} took ${ms.toFixed(0)} ms, runc ${runc.ms.toFixed(0)} ms\n${describeResult(r)}`).toBeLessThan(boundMs);
  });

  test('the container\'s process is in the quota\'s cpu cgroup once started', { timeout: 60_000 }, async () => {
    const name = `${s.prefix}-cpu`;
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.linux.cgroupsPath = `/${name}`;
      // Where the program lands, not how long it waits: a short period spares the seconds the runtimes' last
      // steps inside the cgroup (the exec, runc's init) would wait under 1 ms per second.
      quota(spec, 100_000);
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    expectOk(await s.rt.exec(['start', id]));
    const { pid } = await s.rt.state(id);
    // The program itself (not a runtime process) is what the cgroup holds: its cpu cgroup is the container's.
    await waitFor(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), 5000, 'the program runs');
    expect(cgroupPathOf(pid, 'cpu')).toBe(`/${name}`);
    const procs = fs.readFileSync(path.join(cgroupMount('cpu')!, name, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    expect(procs).toEqual([pid]);
    expectOk(await s.rt.exec(['delete', '--force', id]));
    await waitFor(() => !processExists(pid), 5000, 'init gone');
  });
});
