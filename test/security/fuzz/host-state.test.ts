// The fuzzer's host check must be able to fail: a /dev entry replaced, added or changed shows in the diff,
// and the churn of filesystems mounted inside /dev (devpts, shm) does not. Run on a copy of /dev made in
// the test's own dir (device nodes by mknod), and on a snapshot of the real /dev edited in memory: the host
// itself is never changed.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRun } from '../../helpers/bundle.js';
import { isMountedUnder } from '../../helpers/leaks.js';
import { type HostWatch, diffHostState, snapshotHostState } from './host-state.js';

describe('fuzzer host check: /dev', () => {
  let dir: string;
  let dev: string;
  let watch: HostWatch;

  beforeAll(() => {
    dir = path.join(testRun().base, 'fuzz-host-state');
    dev = path.join(dir, 'dev');
    fs.mkdirSync(path.join(dev, 'net'), { recursive: true });
    fs.mkdirSync(path.join(dev, 'pts'));
    fs.mkdirSync(path.join(dir, 'canary'));
    execFileSync('mknod', ['-m', '666', path.join(dev, 'null'), 'c', '1', '3']);
    execFileSync('mknod', ['-m', '666', path.join(dev, 'ptmx'), 'c', '5', '2']);
    execFileSync('mknod', ['-m', '600', path.join(dev, 'net', 'tun'), 'c', '10', '200']);
    fs.symlinkSync('/proc/self/fd', path.join(dev, 'fd'));
    // Another filesystem inside, as devpts is in /dev.
    execFileSync('mount', ['-t', 'tmpfs', 'tslab-fuzz-test', path.join(dev, 'pts')]);
    watch = { ownDirs: [dir], canary: path.join(dir, 'canary'), decoys: [], settledBefore: Date.now(), trees: [{ dir: dev, depth: 4 }] };
  });

  afterAll(() => {
    if (isMountedUnder(path.join(dev, 'pts'))) execFileSync('umount', [path.join(dev, 'pts')]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** What the snapshot should say of an entry. */
  const identity = (p: string, typeAndMode: string, tail: string): string => {
    const st = fs.lstatSync(p, { bigint: true });
    return `${typeAndMode} owner 0:0 inode ${st.ino} ctime ${st.ctimeNs}${tail}`;
  };

  /** The differences in our copy of /dev only (the real host may change meanwhile: not this test's business). */
  const devChanges = (before: Map<string, string>, after: Map<string, string>): string[] =>
    diffHostState(before, after, watch)
      .map((c) => c.what)
      .filter((w) => w.startsWith(`tree ${dev}/`));

  it('records type, device numbers, mode, owner and inode of every entry, and links, without entering other mounts', () => {
    fs.writeFileSync(path.join(dev, 'pts', '0'), '');
    const s = snapshotHostState(watch);
    expect(s.get(`tree ${dev}/null`)).toBe(identity(path.join(dev, 'null'), 'char mode 666', ' device 1:3'));
    expect(s.get(`tree ${dev}/net/tun`)).toBe(identity(path.join(dev, 'net', 'tun'), 'char mode 600', ' device 10:200'));
    expect(s.get(`tree ${dev}/fd`)).toBe(identity(path.join(dev, 'fd'), 'link mode 777', ' -> /proc/self/fd'));
    expect(s.get(`tree ${dev}/pts`)).toMatch(/^dir /);
    expect([...s.keys()].filter((k) => k.startsWith(`tree ${dev}/pts/`))).toEqual([]);
  });

  it('a node replaced by an identical-looking one, a new entry, a changed mode: each a difference; churn in a mount inside: none', () => {
    const before = snapshotHostState(watch);
    fs.rmSync(path.join(dev, 'ptmx'));
    execFileSync('mknod', ['-m', '666', path.join(dev, 'ptmx'), 'c', '5', '2']);
    execFileSync('mknod', ['-m', '620', path.join(dev, 'console'), 'c', '5', '1']);
    fs.chmodSync(path.join(dev, 'net', 'tun'), 0o666);
    fs.writeFileSync(path.join(dev, 'pts', '1'), '');
    const changes = devChanges(before, snapshotHostState(watch));
    expect(changes).toHaveLength(3);
    expect(changes).toContain(`tree ${dev}/ptmx: ${JSON.stringify(before.get(`tree ${dev}/ptmx`))} -> "${identity(path.join(dev, 'ptmx'), 'char mode 666', ' device 5:2')}"`);
    expect(changes).toContain(`tree ${dev}/console: "(absent)" -> "${identity(path.join(dev, 'console'), 'char mode 620', ' device 5:1')}"`);
    expect(changes.find((c) => c.startsWith(`tree ${dev}/net/tun: `))).toMatch(/"char mode 600 .*" -> "char mode 666 .*"/);
  });

  it('the real /dev is watched, and a change there is shared state (not the fuzzer\'s own)', () => {
    const real: HostWatch = { ...watch, trees: undefined };
    const before = snapshotHostState(real);
    expect(before.get('tree /dev/null')).toMatch(/^char mode 666 owner 0:0 inode \d+ ctime \d+ device 1:3$/);
    expect(before.has('tree /dev/pts')).toBe(true);
    expect([...before.keys()].filter((k) => /^tree \/dev\/(pts|shm)\//.test(k))).toEqual([]);
    expect(before.has('tree /etc')).toBe(true);
    // The host's /dev/ptmx replaced (as a root.path of "/" once did), in a copy of the snapshot.
    const after = new Map(before);
    after.set('tree /dev/ptmx', before.get('tree /dev/ptmx')!.replace(/inode \d+/, 'inode 999999999'));
    const changes = diffHostState(before, after, real);
    expect(changes).toEqual([{ what: expect.stringMatching(/^tree \/dev\/ptmx: "char mode 666 .* device 5:2" -> "char .* inode 999999999 ctime \d+ device 5:2"$/), ours: false }]);
  });
});
