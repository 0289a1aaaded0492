// update, events, features, checkpoint/restore: the same file against runc and tslab-runtime. Limits are read
// back from the container's own cgroup files; events are read as the JSON lines both runtimes print.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { cgroupDirOf } from '../helpers/kernel.js';
import { describeResult, expectError, expectOk, runtimeCommand, runtimeName } from '../helpers/runtime.js';

const s = setupSuite('upd');
const MiB = 1024 * 1024;

async function runDetached(mutate?: (spec: SpecJson) => void): Promise<{ id: string; pid: number }> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sleep', '1000'];
    spec.linux.resources.memory = { limit: 32 * MiB, swap: 32 * MiB };
    spec.linux.resources.pids = { limit: 10 };
    mutate?.(spec);
  });
  const id = s.id();
  expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
  return { id, pid: (await s.rt.state(id)).pid };
}

const read = (pid: number, controller: string, file: string): string =>
  fs.readFileSync(path.join(cgroupDirOf(pid, controller)!, file), 'utf8').trim();

describe('update', () => {
  test('memory, swap, reservation, pids, cpu shares/quota/period and cpuset, read back from the cgroup', async () => {
    const { id, pid } = await runDetached();
    expectOk(
      await s.rt.exec([
        'update', '--memory', '48M', '--memory-swap', '96M', '--memory-reservation', '8M', '--pids-limit', '20',
        '--cpu-share', '100', '--cpu-quota', '20000', '--cpu-period', '50000', '--cpuset-cpus', '0', id,
      ]),
    );
    expect(read(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(48 * MiB));
    if (fs.existsSync(path.join(cgroupDirOf(pid, 'memory')!, 'memory.memsw.limit_in_bytes'))) {
      expect(read(pid, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(96 * MiB));
    }
    expect(read(pid, 'memory', 'memory.soft_limit_in_bytes')).toBe(String(8 * MiB));
    expect(read(pid, 'pids', 'pids.max')).toBe('20');
    expect(read(pid, 'cpu', 'cpu.shares')).toBe('100');
    expect(read(pid, 'cpu', 'cpu.cfs_quota_us')).toBe('20000');
    expect(read(pid, 'cpu', 'cpu.cfs_period_us')).toBe('50000');
    expect(read(pid, 'cpuset', 'cpuset.cpus')).toBe('0');
    // What was not given stays as it is.
    expectOk(await s.rt.exec(['update', '--pids-limit', '30', id]));
    expect(read(pid, 'pids', 'pids.max')).toBe('30');
    expect(read(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(48 * MiB));
  });

  test('--resources - reads LinuxResources JSON from stdin, and then the flags are ignored', async () => {
    const { id, pid } = await runDetached();
    const doc = JSON.stringify({ memory: { limit: 16 * MiB }, pids: { limit: 7 }, cpu: { shares: 300 } });
    expectOk(await s.rt.exec(['update', '-r', '-', '--pids-limit', '99', id], { input: doc }));
    expect(read(pid, 'pids', 'pids.max')).toBe('7');
    expect(read(pid, 'cpu', 'cpu.shares')).toBe('300');
    expect(read(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(16 * MiB));
    const file = path.join(s.tmpDir(), 'res.json');
    fs.writeFileSync(file, JSON.stringify({ pids: { limit: 12 } }));
    expectOk(await s.rt.exec(['update', '--resources', file, id]));
    expect(read(pid, 'pids', 'pids.max')).toBe('12');
  });

  test('refused: a memory limit above memory+swap, a bad size, a bad document, a stopped container', async () => {
    const { id, pid } = await runDetached();
    expectError(await s.rt.exec(['update', '--memory', '64M', id]));
    expect(read(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(32 * MiB));
    expectError(await s.rt.exec(['update', '--memory', '1x', id]), /1x/);
    expectError(await s.rt.exec(['update', '-r', '-', id], { input: '[1]' }));
    expectError(await s.rt.exec(['update', '-r', '-', id], { input: '{"memory":{"limit":"x"}}' }));
    expect(read(pid, 'pids', 'pids.max')).toBe('10');
    expectOk(await s.rt.exec(['kill', id, 'KILL']));
    await s.rt.waitForStatus(id, 'stopped');
    expectError(await s.rt.exec(['update', '--pids-limit', '20', id]), /not running/);
  });
});

describe('events', () => {
  test('--stats prints one stats event with the container\'s limits and usage', async () => {
    const { id } = await runDetached();
    const r = await s.rt.exec(['events', '--stats', id]);
    expectOk(r);
    const lines = r.stdout.trim().split('\n');
    expect(lines, describeResult(r)).toHaveLength(1);
    const e = JSON.parse(lines[0]!);
    expect(e.type).toBe('stats');
    expect(e.id).toBe(id);
    expect(e.data.pids).toEqual({ current: 1, limit: 10 });
    expect(e.data.memory.usage.limit).toBe(32 * MiB);
    expect(e.data.memory.usage.usage).toBeGreaterThan(0);
    expect(e.data.cpu.usage.total).toBeGreaterThan(0);
    expect(Object.keys(e.data).sort()).toEqual(['blkio', 'cpu', 'cpuset', 'hugetlb', 'intel_rdt', 'memory', 'network_interfaces', 'pids']);
  });

  test('the stream: stats every interval and an oom event when the OOM killer strikes', async () => {
    // The allocation waits for SIGUSR1, sent once the stream has printed: only OOM kills while listening are events.
    const { id } = await runDetached((spec) => {
      spec.process.args = ['sh', '-c', 'trap "dd if=/dev/zero of=/dev/null bs=64M count=1" USR1; while :; do sleep 0.1; done'];
    });
    const { file, prefix } = runtimeCommand();
    const child = spawn(file, [...prefix, '--root', s.rt.root, 'events', '--interval', '300ms', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    s.defer(() => void child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const until = (what: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} from events within 20 s; stdout: ${out}; stderr: ${err}`)), 20_000);
        const check = (d?: Buffer) => {
          if (d) out += d;
          if (what.test(out)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve();
          }
        };
        child.stdout.on('data', check);
        check();
      });
    await until(/"type":"stats"/);
    expectOk(await s.rt.exec(['kill', id, 'USR1']));
    await until(/"type":"oom"/);
    await until(/"type":"oom".*\n(.*\n)*.*"type":"stats"/);
    child.kill('SIGTERM');
    // Whole lines only (the kill may cut one short); one OOM kill may be reported more than once (runc too).
    const events = out.slice(0, out.lastIndexOf('\n')).split('\n').map((l) => JSON.parse(l));
    const ooms = events.filter((e) => e.type === 'oom');
    expect(ooms.length).toBeGreaterThanOrEqual(1);
    for (const oom of ooms) expect(oom).toEqual({ type: 'oom', id });
    expect(events.filter((e) => e.type === 'stats').length).toBeGreaterThanOrEqual(2);
  });

  test('a stopped container has no stats', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
    });
    const id = s.id();
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
    await s.rt.waitForStatus(id, 'stopped');
    expectError(await s.rt.exec(['events', '--stats', id]), /not running/);
  });
});

describe('features, checkpoint, restore', () => {
  test('features: the runtime-spec features document', async () => {
    const r = await s.rt.exec(['features']);
    expectOk(r);
    const f = JSON.parse(r.stdout);
    expect(f.ociVersionMin).toMatch(/^1\./);
    expect(f.hooks).toEqual(expect.arrayContaining(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']));
    expect(f.mountOptions).toEqual(expect.arrayContaining(['bind', 'rbind', 'ro', 'nosuid', 'tmpcopyup']));
    expect(f.linux.namespaces).toEqual(expect.arrayContaining(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']));
    expect(f.linux.capabilities).toEqual(expect.arrayContaining(['CAP_SYS_ADMIN', 'CAP_CHOWN']));
    expect(f.linux.seccomp.enabled).toBe(true);
    expect(f.linux.seccomp.actions).toEqual(expect.arrayContaining(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL']));
    expect(f.linux.seccomp.archs).toContain('SCMP_ARCH_X86_64');
  });

  test('checkpoint and restore fail with a message, and the container keeps running', async () => {
    const { id } = await runDetached();
    const cwd = s.tmpDir('criu');
    const tslab = runtimeName() === 'tslab';
    expectError(await s.rt.exec(['checkpoint', '--image-path', path.join(cwd, 'img'), id], { cwd }), tslab ? /checkpoint is not supported.*CRIU/ : undefined);
    expect((await s.rt.state(id)).status).toBe('running');
    const b = await s.bundle();
    const other = s.id();
    expectError(await s.rt.exec(['restore', '--image-path', path.join(cwd, 'img'), '--bundle', b.dir, other], { cwd }), tslab ? /restore is not supported.*CRIU/ : undefined);
    expect(await s.rt.stateOrNull(other)).toBeNull();
  });
});
