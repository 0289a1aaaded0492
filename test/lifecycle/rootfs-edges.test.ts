// Edges of building the container's filesystem, each compared with runc 1.1.5 for real: a mount
// destination that a symbolic link in the rootfs leads to the root itself (x -> /, x -> .., nested links),
// a mount point that cannot be made (in /proc), /etc/passwd masked by maskedPaths, read-only tmpfs (mounted
// writable first, as runc, so mount points, copies and device nodes can be made), an mqueue filesystem on
// /dev, and sysctl keys spelled with slashes. Every refusal is quick and says why.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { describeResult, expectError, expectOk, runtimeName, type RunResult } from '../helpers/runtime.js';

const s = setupSuite('rootfs-edges');
const tslab = runtimeName() === 'tslab';

/** Runs `script` in a fresh container after `mutate` and `prepare`; stderr folded into stdout. */
async function runSh(script: string, mutate: (spec: SpecJson) => void, prepare?: (rootfs: string) => void): Promise<{ r: RunResult; ms: number; rootfs: string }> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sh', '-c', `exec 2>&1; ${script}`];
    spec.process.env = (spec.process.env as string[]).filter((e) => !e.startsWith('HOME='));
    mutate(spec);
  });
  prepare?.(b.rootfs);
  const started = Date.now();
  const r = await s.runFg(b, s.id(), [], { timeoutMs: 15_000 });
  return { r, ms: Date.now() - started, rootfs: b.rootfs };
}

/** The spec's /dev mounts replaced by one mount of `type` on /dev. */
function devAs(spec: SpecJson, type: string, options: string[]): void {
  spec.mounts = (spec.mounts as SpecJson[]).filter((m) => !String(m.destination).startsWith('/dev'));
  spec.mounts.push({ destination: '/dev', type, source: type, options });
}

describe('a mount destination that leads to the container root through a symlink', () => {
  const LINKS: Array<[string, string, (rootfs: string) => void]> = [
    ['x -> /', '/x', (r) => fs.symlinkSync('/', path.join(r, 'x'))],
    ['x -> ..', '/x', (r) => fs.symlinkSync('..', path.join(r, 'x'))],
    ['nested: a/c -> ../b, b -> /', '/a/c', (r) => {
      fs.mkdirSync(path.join(r, 'a'));
      fs.symlinkSync('../b', path.join(r, 'a/c'));
      fs.symlinkSync('/', path.join(r, 'b'));
    }],
  ];
  for (const [what, destination, link] of LINKS) {
    for (const type of ['proc', 'tmpfs']) {
      test(`${what}, ${type} on ${destination}: refused quickly, the rootfs untouched`, async () => {
        const { r, ms, rootfs } = await runSh('echo RAN', (spec) => spec.mounts.push({ destination, type, source: type }), link);
        expectError(r, tslab ? new RegExp(`${destination}: the destination resolves, through a symbolic link in the rootfs, to the container's root itself`) : undefined);
        expect(r.stdout).not.toContain('RAN');
        expect(ms, describeResult(r)).toBeLessThan(10_000);
        expect(fs.statSync(path.join(rootfs, 'bin/busybox')).isFile()).toBe(true);
      });
    }
  }
});

test('a mount point that procfs will not let be made (/proc/a/b) is refused quickly, naming it', async () => {
  const { r, ms } = await runSh('echo RAN', (spec) => spec.mounts.push({ destination: '/proc/a/b', type: 'tmpfs', source: 'tmpfs' }));
  expectError(r, /proc\/a/);
  if (tslab) expect(r.stderr).toMatch(/mkdirat proc\/a: ENOENT/);
  expect(ms, describeResult(r)).toBeLessThan(10_000);
});

test('/etc/passwd masked by maskedPaths (a character device): the process runs with HOME=/', async () => {
  const { r } = await runSh('echo "HOME=$HOME"; [ -c /etc/passwd ] && echo MASKED', (spec) => spec.linux.maskedPaths.push('/etc/passwd'));
  expectOk(r);
  expect(r.stdout).toMatch(/^HOME=\/$/m);
  expect(r.stdout).toMatch(/^MASKED$/m);
});

test('a read-only tmpfs takes a mount point inside it, and a read-only tmpcopyup gets its copy: both end read-only', async () => {
  const src = s.tmpDir('src');
  fs.writeFileSync(path.join(src, 'f'), 'from the host\n');
  const script = 'grep -E " /a | /a/b | /etc " /proc/self/mountinfo | cut -d" " -f5,6; cat /a/b/f; head -1 /etc/passwd; touch /a/x /etc/x || echo READONLY';
  const { r } = await runSh(script, (spec) => {
    spec.mounts.push(
      { destination: '/a', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'nosuid'] },
      { destination: '/a/b', type: 'bind', source: src, options: ['rbind', 'ro'] },
      { destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'ro'] },
    );
  });
  expectOk(r);
  expect(r.stdout).toMatch(/^\/a ro,nosuid/m);
  expect(r.stdout).toMatch(/^\/a\/b ro/m);
  expect(r.stdout).toMatch(/^\/etc ro/m);
  expect(r.stdout).toContain('from the host');
  expect(r.stdout).toMatch(/^root:x:0:0:/m);
  expect(r.stdout).toMatch(/^READONLY$/m);
});

describe('/dev', () => {
  test('a read-only tmpfs on /dev: the device nodes and links are made, then /dev is read-only', async () => {
    const script = 'grep " /dev " /proc/self/mountinfo; stat -c "%F %t:%T" /dev/null; readlink /dev/ptmx; readlink /dev/fd; touch /dev/new && echo WROTE; echo END';
    const { r } = await runSh(script, (spec) => devAs(spec, 'tmpfs', ['nosuid', 'ro', 'mode=755']));
    expectOk(r);
    expect(r.stdout).toMatch(/ \/dev ro,[^ ]* .*- tmpfs /);
    expect(r.stdout).toContain('character special file 1:3');
    expect(r.stdout).toMatch(/^pts\/ptmx$/m);
    expect(r.stdout).toMatch(/^\/proc\/self\/fd$/m);
    expect(r.stdout).not.toContain('WROTE');
    expect(r.stdout).toMatch(/^END$/m);
  });

  test('an mqueue filesystem on /dev (ro or not) is refused: it holds no device nodes or links', async () => {
    for (const options of [['ro', 'nosuid'], ['nosuid']]) {
      const { r } = await runSh('echo RAN', (spec) => devAs(spec, 'mqueue', options));
      expectError(r, tslab ? /symlink .*\/dev\/ptmx: EPERM.*a mqueue filesystem is mounted on \/dev/ : /ptmx/);
      expect(r.stdout).not.toContain('RAN');
    }
  });
});

describe('sysctl keys spelled with slashes', () => {
  test('"net/ipv4/ip_forward" is set like net.ipv4.ip_forward', async () => {
    const { r } = await runSh('cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/lo/rp_filter', (spec) => {
      spec.linux.sysctl = { 'net/ipv4/ip_forward': '1', 'net/ipv4/conf/lo/rp_filter': '2' };
    });
    expectOk(r);
    expect(r.stdout.trim().split('\n')).toEqual(['1', '2']);
  });

  test('a value the kernel refuses: the error names the /proc/sys file (and, for tslab, the key and errno)', async () => {
    const { r } = await runSh('echo RAN', (spec) => {
      spec.linux.sysctl = { 'net/ipv4/ip_forward': 'not-a-number' };
    });
    expectError(r, /\/proc\/sys\/net\/ipv4\/ip_forward/);
    if (tslab) expect(r.stderr).toMatch(/sysctl net\/ipv4\/ip_forward="not-a-number": write \/proc\/sys\/net\/ipv4\/ip_forward: EINVAL/);
    expect(r.stdout).not.toContain('RAN');
  });
});
