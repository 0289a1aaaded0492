// `tslab run` and friends given hostile input, through the real CLI: uids that overflow, fds inherited by
// `tslab exec`, container names that are paths, a monitor killed under a running container, and what an
// exec'd process can reach through /proc. Host files are a canary with random content: it must never
// show up in a container's output.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { hostPlatform } from '../../src/image/image.js';
import { busyboxLayerTar, describeResult, engineScope, gzip, sleep, TSLAB } from '../engine/engine-env.js';

const e = engineScope('security-engine');
let canary: string;
let secret: string;

beforeAll(() => {
  secret = `canary-${randomBytes(12).toString('hex')}`;
  canary = path.join(e.scratch, 'canary');
  fs.writeFileSync(canary, secret);
});

/** tslab run from a shell that first opens fd 200 on the host's / and fd 201 on the canary. */
function withHostFds(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', `exec 200</ 201<"${canary}"; exec "$0" "$@"`, process.execPath, TSLAB, ...args], {
    env: { ...process.env, TSLAB_DATA_DIR: e.dataDir, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('uids and gids', () => {
  test.each(['4294967295', '99999999999', '0:4294967296', 'root:99999999999'])('-u %s is refused, not run as root', async (user) => {
    const r = await e.tslab(['run', '--rm', '--network', 'none', '-u', user, 'busybox', 'id']);
    expect(r.code, describeResult(r)).toBe(125);
    expect(r.stderr).toMatch(/out of range: a [ug]id must be from 0 to 2147483647/);
    expect(r.stdout).not.toContain('uid=0');
  });
});

describe('names and ids', () => {
  test('a name that is a path is refused by run, and by every command given one', async () => {
    const r = await e.tslab(['run', '--rm', '--name', '../../x', 'busybox', 'true']);
    expect(r.code, describeResult(r)).toBe(125);
    expect(r.stderr).toContain('invalid container name "../../x"');
    for (const cmd of [['rm', '-f', '../..'], ['stop', '.'], ['logs', '../../etc'], ['kill', '..'], ['exec', '../x', 'true']]) {
      const c = await e.tslab(cmd);
      expect(c.code, describeResult(c)).not.toBe(0);
      expect(c.stderr).toContain('invalid container name or id');
    }
  });
});

describe('fds and /proc from inside', () => {
  test('tslab run and tslab exec pass no inherited fd; nothing in /proc reaches the host', async () => {
    const run = withHostFds(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /proc/self/fd; cat /proc/self/fd/201; cat /proc/self/fd/200' + canary]);
    expect(run.out).not.toContain(secret);
    expect(run.out.split('\n')).not.toContain('200');
    await e.ok(['run', '-d', '--name', 'fds', '--network', 'none', 'busybox', 'sleep', '300']);
    const up = '/..'.repeat(20);
    const probe = [
      'ls /proc/self/fd',
      'cat /proc/self/fd/201',
      `cat /proc/self/fd/200${canary}`,
      // Every visible process: its fds, cwd and root must not lead to the host's files.
      `for p in /proc/[0-9]*; do for f in $p/fd/* $p/cwd $p/root; do cat "$f${up}${canary}" 2>/dev/null; cat "$f${canary}" 2>/dev/null; done; done`,
      // ... and its executable must be a file of the container's own root.
      'for p in /proc/[0-9]*; do x=$(readlink $p/exe) || continue; cmp -s $p/exe "$x" || echo "foreign exe $p $x"; done',
    ].join('; ');
    const exec = withHostFds(['exec', 'fds', 'sh', '-c', probe]);
    expect(exec.out).not.toContain(secret);
    expect(exec.out).not.toContain('foreign exe');
    expect(exec.out.split('\n')).not.toContain('200');
    await e.ok(['rm', '-f', 'fds']);
  });
});

describe('a killed monitor', () => {
  test('ps shows the container exited with an unknown status; stop and rm release everything', async () => {
    await e.ok(['run', '-d', '--name', 'orphan', 'busybox', 'sleep', '300']);
    const info = (await e.inspect('orphan')) as unknown as { monitor: { pid: number }; pid: number };
    process.kill(info.monitor.pid, 'SIGKILL');
    const seen = await e.waitFor('orphan', (c) => c?.status === 'exited');
    expect(seen?.exitCode).toBeUndefined();
    expect((await e.tslab(['ps', '-a'])).stdout).toMatch(/Exited \(unknown\)/);
    await e.ok(['stop', 'orphan']);
    const liveInit = () => fs.existsSync(`/proc/${info.pid}/stat`) && !/\) Z/.test(fs.readFileSync(`/proc/${info.pid}/stat`, 'utf8'));
    for (let i = 0; i < 50 && liveInit(); i++) await sleep(100);
    expect(liveInit(), 'the init of the orphaned container after stop').toBe(false);
    await e.ok(['rm', 'orphan']);
  });
});

describe('logs', () => {
  test('a log over 2 GiB is streamed to its end', async () => {
    const id = (await e.ok(['run', '-d', '--network', 'none', 'busybox', 'true'])).trim();
    await e.waitFor(id, (c) => c?.status === 'exited');
    const { logFile } = await e.inspect(id);
    fs.truncateSync(logFile, 2 ** 31 + 4096); // sparse
    fs.appendFileSync(logFile, `END-${secret}`);
    const tail = execFileSync('sh', ['-c', `"$0" "${TSLAB}" logs ${id} | tail -c 64`, process.execPath], { env: { ...process.env, TSLAB_DATA_DIR: e.dataDir }, encoding: 'utf8', maxBuffer: 1024 });
    expect(tail).toContain(`END-${secret}`);
    await e.ok(['rm', id]);
  }, 120_000);
});

/** An OCI layout of the busybox layer plus a layer made by GNU tar from `build`'s tree (symlinks, FIFOs). */
function hostileImage(name: string, build: (dir: string) => void): string {
  const tree = path.join(e.scratch, `${name}-tree`);
  fs.mkdirSync(path.join(tree, 'etc'), { recursive: true });
  build(tree);
  const top = execFileSync('tar', ['-cf', '-', '-C', tree, '.'], { maxBuffer: 64 * 1024 * 1024 });
  const layers = [busyboxLayerTar(e.scratch), top];
  const dir = path.join(e.scratch, name);
  const put = (data: Buffer) => {
    const digest = sha256Digest(data);
    fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const p = hostPlatform();
  const config = { architecture: p.architecture, os: p.os, config: { Cmd: ['id'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256Digest(l)) } };
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(Buffer.from(JSON.stringify(config))) },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gzip(l)) })),
      }),
    ),
  );
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
  return dir;
}

describe("the image's /etc files", () => {
  test('/etc/passwd as a symlink to a host file, to /dev/zero, as a FIFO: never read on the host', async () => {
    const hostPasswd = path.join(e.scratch, 'host-passwd');
    fs.writeFileSync(hostPasswd, 'evil:x:4242:4242::/:/bin/sh\n');
    const cases: Array<[string, (dir: string) => void, RegExp]> = [
      ['pw-host', (d) => fs.symlinkSync(hostPasswd, path.join(d, 'etc/passwd')), /unable to find user evil/],
      ['pw-zero', (d) => fs.symlinkSync('/dev/zero', path.join(d, 'etc/passwd')), /unable to find user evil/],
      ['pw-fifo', (d) => execFileSync('mkfifo', [path.join(d, 'etc/passwd')]), /the image's \/etc\/passwd is a FIFO/],
    ];
    for (const [name, build, refusal] of cases) {
      await e.ok(['import', hostileImage(name, build), name]);
      const r = await e.tslab(['run', '--rm', '--network', 'none', '-u', 'evil', name, 'id', '-u'], { timeoutMs: 20_000 });
      expect(r.code, describeResult(r)).toBe(125);
      expect(r.stderr).toMatch(refusal);
      expect(r.stdout).not.toContain('4242');
    }
  });

  test('/etc/hosts, /etc/hostname and /etc/resolv.conf as symlinks to host files: replaced, not followed', async () => {
    const targets = ['hosts', 'hostname', 'resolv.conf'].map((f) => path.join(e.scratch, `host-${f}`));
    for (const t of targets) fs.writeFileSync(t, secret);
    const image = hostileImage('etc-links', (d) => targets.forEach((t, i) => fs.symlinkSync(t, path.join(d, 'etc', ['hosts', 'hostname', 'resolv.conf'][i]))));
    await e.ok(['import', image, 'etclinks']);
    const out = await e.ok(['run', '--rm', '--network', 'none', '-h', 'inside', 'etclinks', 'cat', '/etc/hostname']);
    expect(out).toBe('inside\n');
    for (const t of targets) expect(fs.readFileSync(t, 'utf8')).toBe(secret);
  });
});
