// `tslab run` as a docker user meets it: a fresh data dir has busybox:latest, a foreground run prints the
// container's output and exits with its status (docker's numbers: the container's own, 125 tslab's errors,
// 126 cannot execute, 127 not found), leaves nothing behind with --rm, and every run flag does what
// docker's does, checked from inside the container (or from the host for cgroup limits).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { cgroupDirsOf } from '../../src/runtime/cgroups/detect.js';
import { BRIDGE, describeResult, engineScope, linkExists, type TslabResult } from './engine-env.js';
import { isMountedUnder } from '../helpers/leaks.js';

const e = engineScope('run', { removeAfterEach: false });

/** A tslab error of `run`: a clear message, and docker's 125. */
function expectRunError(r: TslabResult, message: RegExp): void {
  expect(r.stderr, describeResult(r)).toMatch(message);
  expect(r.code, describeResult(r)).toBe(125);
}

describe('a fresh data dir', () => {
  test('lists busybox:latest; run --rm busybox echo hi prints hi, exits 0 and leaves nothing', async () => {
    const images = await e.ok(['images']);
    expect(images.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+SIZE$/);
    expect(images).toMatch(/^busybox\s+latest\s+[0-9a-f]{12}\s+\S+$/m);

    const r = await e.tslab(['run', '--rm', 'busybox', 'echo', 'hi']);
    expect(r.stdout, describeResult(r)).toBe('hi\n');
    expect(r.code).toBe(0);

    expect(await e.psAll()).toEqual([]);
    expect((await e.ok(['ps', '-a'])).trim().split('\n')).toHaveLength(1); // the header only
    expect(isMountedUnder(e.dataDir)).toBe(false);
    expect(linkExists(BRIDGE)).toBe(false);
    expect(fs.readdirSync(path.join(e.dataDir, 'containers'))).toEqual([]);
  });
});

describe('exit statuses', () => {
  test("the container's own status: sh -c 'exit 3' -> 3", async () => {
    const r = await e.tslab(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
    expect(r.code, describeResult(r)).toBe(3);
    expect(await e.psAll()).toEqual([]);
  });

  test('a command that does not exist -> 127, with a message', async () => {
    const r = await e.tslab(['run', '--rm', 'busybox', 'nope']);
    expect(r.stderr).toMatch(/nope.*not found/);
    expect(r.code, describeResult(r)).toBe(127);
    expect(await e.psAll()).toEqual([]);
  });

  test('a file that is not executable -> 126, with a message', async () => {
    const r = await e.tslab(['run', '--rm', 'busybox', '/etc/passwd']);
    expect(r.stderr).toMatch(/\/etc\/passwd/);
    expect(r.code, describeResult(r)).toBe(126);
    expect(await e.psAll()).toEqual([]);
  });

  test('an unknown flag is refused (usage error) and creates nothing', async () => {
    const r = await e.tslab(['run', '--rm', '--bogus', 'busybox', 'true']);
    expect(r.stderr).toMatch(/unknown flag: --bogus/);
    expect([2, 125], describeResult(r)).toContain(r.code);
    const short = await e.tslab(['run', '-Z', 'busybox', 'true']);
    expect(short.stderr).toMatch(/unknown shorthand flag: 'Z'/);
    expect([2, 125], describeResult(short)).toContain(short.code);
    const missing = await e.tslab(['run']);
    expect(missing.stderr).toMatch(/run needs an image/);
    expect([2, 125], describeResult(missing)).toContain(missing.code);
    expect(await e.psAll()).toEqual([]);
  });

  test('an unknown image -> 125 with a clear message, no container left', async () => {
    const r = await e.tslab(['run', '--rm', 'nosuchimage', 'true']);
    expect(await e.psAll()).toEqual([]);
    expectRunError(r, /no image nosuchimage/);
  });

  test('a bad -m -> 125 with a clear message, no container left', async () => {
    const bad = await e.tslab(['run', '--rm', '-m', '12x', 'busybox', 'true']);
    const tiny = await e.tslab(['run', '-m', '1k', 'busybox', 'true']);
    expect(await e.psAll()).toEqual([]);
    expect(isMountedUnder(e.dataDir)).toBe(false);
    expectRunError(bad, /invalid size "12x"/);
    expectRunError(tiny, /too small/);
  });
});

describe.concurrent('run flags', () => {
  test('--name names the container; a second container of that name is refused', async () => {
    const id = (await e.ok(['run', '-d', '--name', 'named', 'busybox', 'sleep', '30'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const info = await e.inspect('named');
    expect(info.id).toBe(id);
    const again = await e.tslab(['run', '--rm', '--name', 'named', 'busybox', 'true']);
    expect((await e.psAll()).filter((c) => c.name === 'named')).toHaveLength(1);
    await e.ok(['rm', '-f', 'named']);
    expectRunError(again, /"named" is already in use/);
  });

  test('-e and --env-file set the environment (-e wins)', async () => {
    const envFile = path.join(e.scratch, 'env.list');
    fs.writeFileSync(envFile, '# a comment\nFROM_FILE=file value\nBOTH=from the file\n\n');
    const out = await e.ok(['run', '--rm', '-e', 'ONE=1', '--env', 'BOTH=from -e', '--env-file', envFile, 'busybox', 'sh', '-c', 'echo "$ONE|$FROM_FILE|$BOTH"']);
    expect(out).toBe('1|file value|from -e\n');
  });

  test('-w sets the working directory', async () => {
    expect(await e.ok(['run', '--rm', '-w', '/tmp', 'busybox', 'pwd'])).toBe('/tmp\n');
  });

  test('-u UID:GID runs as that user and group', async () => {
    expect(await e.ok(['run', '--rm', '-u', '1234:5678', 'busybox', 'sh', '-c', 'id -u; id -g'])).toBe('1234\n5678\n');
  });

  test('-h sets the hostname', async () => {
    expect(await e.ok(['run', '--rm', '-h', 'box.example', 'busybox', 'hostname'])).toBe('box.example\n');
  });

  test('-v SRC:DST binds a host dir read-write; :ro makes writes fail', async () => {
    const dir = path.join(e.scratch, 'vol');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'from-host'), 'host data\n');
    const out = await e.ok(['run', '--rm', '-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'cat /data/from-host; echo container data > /data/from-container']);
    expect(out).toBe('host data\n');
    expect(fs.readFileSync(path.join(dir, 'from-container'), 'utf8')).toBe('container data\n');

    const ro = await e.tslab(['run', '--rm', '-v', `${dir}:/data:ro`, 'busybox', 'sh', '-c', 'cat /data/from-host; touch /data/ro-write']);
    expect(ro.stdout).toBe('host data\n');
    expect(ro.stderr).toMatch(/Read-only file system/);
    expect(ro.code).not.toBe(0);
    expect(fs.existsSync(path.join(dir, 'ro-write'))).toBe(false);
  });

  test('-m 32m: writing 64M into memory is OOM-killed -> 137', async () => {
    // dd itself is the container's process: the OOM killer's SIGKILL is the container's end.
    const r = await e.tslab(['run', '--rm', '-m', '32m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
    expect(r.code, describeResult(r)).toBe(137);
    // the same dd without the limit completes
    const free = await e.tslab(['run', '--rm', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
    expect(free.code, describeResult(free)).toBe(0);
  });

  test('--pids-limit 10: a fork loop runs out of processes', async () => {
    const r = await e.tslab(['run', '--rm', '--pids-limit', '10', 'busybox', 'sh', '-c', 'for i in $(seq 30); do sleep 5 & done; echo all forked']);
    expect(r.stderr, describeResult(r)).toMatch(/can't fork/);
    expect(r.stdout).not.toMatch(/all forked/);
    expect(r.code).not.toBe(0);
  });

  test('--cpus 0.2: the cgroup quota is 20000 per 100000 period', async () => {
    const id = (await e.ok(['run', '-d', '--cpus', '0.2', 'busybox', 'sleep', '30'])).trim();
    const { pid } = await e.inspect(id);
    expect(pid).toBeGreaterThan(0);
    const quotas = cgroupDirsOf(pid!).flatMap((dir) => {
      const v1 = path.join(dir, 'cpu.cfs_quota_us');
      const v2 = path.join(dir, 'cpu.max');
      if (fs.existsSync(v1)) return [fs.readFileSync(v1, 'utf8').trim()];
      if (fs.existsSync(v2)) return [fs.readFileSync(v2, 'utf8').trim().split(' ')[0]];
      return [];
    });
    await e.ok(['rm', '-f', id]);
    expect(quotas).toEqual(['20000']);
  });

  test('--entrypoint replaces the command to run', async () => {
    expect(await e.ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint'])).toBe('from entrypoint\n');
  });

  test('-i passes stdin through: echo abc | tslab run -i --rm busybox cat', async () => {
    expect(await e.ok(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'abc\n' })).toBe('abc\n');
    // without -i the container reads nothing
    expect(await e.ok(['run', '--rm', 'busybox', 'cat'], { input: 'abc\n' })).toBe('');
  });

  test('--network none: only lo', async () => {
    const out = await e.ok(['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/net/dev']);
    const devices = out.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0].trim());
    expect(devices).toEqual(['lo']);
  });

  test("--network host: the host's network namespace", async () => {
    const out = await e.ok(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']);
    expect(out.trim()).toBe(fs.readlinkSync('/proc/self/ns/net'));
    // and the default (bridge) is a namespace of its own
    const own = await e.ok(['run', '--rm', 'busybox', 'readlink', '/proc/self/ns/net']);
    expect(own.trim()).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
  });

  test('--network with another value is refused', async () => {
    const r = await e.tslab(['run', '--rm', '--network', 'overlay', 'busybox', 'true']);
    expect(r.stderr).toMatch(/--network must be bridge, none or host/);
    expect([2, 125], describeResult(r)).toContain(r.code);
  });
});
