// `exec`: what the new process is made of, from runc's flags and from process.json (its environment, cwd,
// user, groups, capabilities, no_new_privs), and the execs a runtime refuses. Read from the inside (what the
// process prints). The same file runs against runc and tslab-runtime; containers go with setupSuite's
// cleanup. The stage, the joins, fds and terminals: exec.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite } from '../helpers/bundle.js';
import { execHelpers, lines } from '../helpers/exec.js';
import { capMask } from '../helpers/kernel.js';
import { describeResult, expectError, expectOk, type RunResult, sleep } from '../helpers/runtime.js';

const s = setupSuite('exec-process');
const { running, exec } = execHelpers(s);

describe('exec: the process', () => {
  test('--env, --cwd, --user and --additional-gids', async () => {
    const { id } = await running();
    const r = await exec(id, ['sh', '-c', 'echo "$FOO|$BAR"; pwd; id -u; id -g; id -G'], ['--env', 'FOO=one', '--env', 'BAR=two', '--cwd', '/tmp', '-u', '1000:1001', '-g', '5', '-g', '7']);
    expectOk(r);
    const [env, cwd, uid, gid, groups] = lines(r.stdout);
    expect(env).toBe('one|two');
    expect(cwd).toBe('/tmp');
    expect(uid).toBe('1000');
    expect(gid).toBe('1001');
    expect(groups.split(' ').sort()).toEqual(['1001', '5', '7']);
  });

  test('the environment of config.json is kept, and --env adds to it', async () => {
    const { id } = await running((spec) => spec.process.env.push('FROM_CONFIG=yes'));
    const r = await exec(id, ['sh', '-c', 'echo "$FROM_CONFIG $EXTRA"'], ['-e', 'EXTRA=also']);
    expectOk(r);
    expect(lines(r.stdout)).toEqual(['yes also']);
  });

  test('capabilities: the config\'s, and --cap adds one (CapEff read inside)', async () => {
    const { id } = await running();
    const capEff = async (flags: string[]) => {
      const r = await exec(id, ['sh', '-c', 'grep CapEff /proc/self/status'], flags);
      expectOk(r);
      return BigInt(`0x${r.stdout.trim().split(/\s+/)[1]}`);
    };
    const plain = await capEff([]);
    const netAdmin = capMask(['CAP_NET_ADMIN']);
    expect(plain & netAdmin).toBe(0n);
    expect(plain & capMask(['CAP_KILL'])).toBe(capMask(['CAP_KILL']));
    expect(await capEff(['--cap', 'CAP_NET_ADMIN'])).toBe(plain | netAdmin);
  });

  test('--no-new-privs', async () => {
    const { id } = await running((spec) => (spec.process.noNewPrivileges = false));
    const nnp = async (flags: string[]) => lines((await exec(id, ['sh', '-c', 'grep NoNewPrivs /proc/self/status'], flags)).stdout)[0];
    expect(await nnp([])).toMatch(/NoNewPrivs:\s+0/);
    expect(await nnp(['--no-new-privs'])).toMatch(/NoNewPrivs:\s+1/);
  });

  test('--process: a process.json says everything', async () => {
    const { id } = await running();
    const file = path.join(s.tmpDir('process'), 'process.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        args: ['sh', '-c', 'echo "$WHO in $(pwd) as $(id -u)"; exit 3'],
        env: ['PATH=/bin', 'WHO=process.json'],
        cwd: '/etc',
        user: { uid: 2, gid: 2 },
      }),
    );
    const r = await s.rt.exec(['exec', '--process', file, id]);
    expect(r.code, describeResult(r)).toBe(3);
    expect(lines(r.stdout)).toEqual(['process.json in /etc as 2']);
  });
});

describe('exec refused', () => {
  test('into a stopped container, with runc\'s message', async () => {
    const bundle = await s.bundle((spec) => (spec.process.args = ['true']));
    const id = s.id();
    expectOk(await s.create(bundle, id));
    expectOk(await s.rt.exec(['start', id]));
    await s.rt.waitForStatus(id, 'stopped');
    expectError(await exec(id, ['echo', 'never']), /cannot exec in a stopped container/);
  });

  test('into a paused container, unless --ignore-paused', async () => {
    const { id } = await running();
    expectOk(await s.rt.exec(['pause', id]));
    s.defer(async () => void (await s.rt.exec(['resume', id])));
    expectError(await exec(id, ['echo', 'never']), /cannot exec in a paused container/);
  });

  test('--ignore-paused: the process joins the frozen cgroup and runs once the container is resumed', async () => {
    const { id } = await running();
    expectOk(await s.rt.exec(['pause', id]));
    let resumed = false;
    s.defer(async () => void (resumed || (await s.rt.exec(['resume', id]))));
    let settled: RunResult | undefined;
    const result = exec(id, ['sh', '-c', 'echo ran'], ['--ignore-paused']);
    void result.then((r) => (settled = r));
    await sleep(1000);
    expect(settled, 'exec finished while the container was paused').toBeUndefined();
    expectOk(await s.rt.exec(['resume', id]));
    resumed = true;
    const r = await result;
    expectOk(r);
    expect(lines(r.stdout)).toEqual(['ran']);
  });

  test('a hostile --cwd through /proc/self/fd/N, as in create', async () => {
    const { id } = await running();
    for (let n = 3; n <= 9; n++) {
      const r = await exec(id, ['sh', '-c', 'echo escaped; pwd'], ['--cwd', `/proc/self/fd/${n}`]);
      expectError(r, /chdir to cwd/);
      expect(r.stdout).not.toContain('escaped');
    }
  });

  test('a missing cwd is not made, a missing program not run', async () => {
    const { id } = await running();
    expectError(await exec(id, ['pwd'], ['--cwd', '/no/such/dir']), /chdir to cwd/);
    expectError(await exec(id, ['no-such-program']), /executable file not found/);
    expectError(await exec(id, []), /./);
  });
});

