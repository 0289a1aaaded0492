// secureJoin(root, path): resolve a path inside a root the way the kernel does after chroot(root).
//
// The checks run on a real tree of symlinks. Besides the expected strings, every path whose target
// exists is also resolved by the kernel itself: a static busybox copied into the tree runs `stat` under
// chroot(root), and the device:inode it prints must be the one of the file secureJoin named.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { O_CLOEXEC, O_DIRECTORY, O_RDONLY, close, open } from '../../src/linux/fs.js';
import { O_PATH } from '../../src/linux/resolve.js';
import { mkdirAllInRoot, openInRoot, secureJoin } from '../../src/fs/in-root.js';
import { UnsafeFileError, readFileInRoot, readRegularIn } from '../../src/fs/regular-file.js';

// Made when the file is collected: the table of cases below names paths under it.
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-securejoin-'));
const root = path.join(base, 'root');
const outside = path.join(base, 'outside');

/** Path relative to the tree's root. */
const R = (...parts: string[]): string => path.join(root, ...parts);

function link(target: string, at: string): void {
  fs.mkdirSync(path.dirname(R(at)), { recursive: true });
  fs.symlinkSync(target, R(at));
}

function staticBusybox(): string | undefined {
  for (const candidate of ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox']) {
    if (!fs.existsSync(candidate)) continue;
    const head = fs.readFileSync(candidate).subarray(0, 4096);
    if (!head.includes(Buffer.from('ld-linux'))) return candidate;
  }
  return undefined;
}

const busybox = staticBusybox();
const canChroot = process.getuid?.() === 0 && busybox !== undefined;

beforeAll(() => {
  // Things outside the root that an escaping link would reach.
  fs.mkdirSync(path.join(outside, 'secret'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret/file'), 'outside\n');

  fs.mkdirSync(R('a/b/c'), { recursive: true });
  fs.mkdirSync(R('etc'), { recursive: true });
  fs.mkdirSync(R('tmp'), { recursive: true });
  fs.writeFileSync(R('etc/passwd'), 'inside\n');
  fs.writeFileSync(R('a/b/file'), 'file\n');

  // Absolute links: restart at the root, never at the host's /.
  link('/etc', 'abs-etc');
  link('/a/b', 'a/abs-ab');
  link('/', 'slash');
  link('/../../../etc', 'abs-dotdot-etc');
  link('/../../../../../..', 'abs-dotdot-only');
  link(`${outside}/secret`, 'host-path'); // an absolute host path: re-read under the root
  // Relative links, including ones climbing past the root.
  link('../../../../../../../../etc', 'a/b/c/climb-etc');
  link('../../../../../../../..', 'a/b/up-root');
  link('../file', 'a/b/c/rel-file');
  link('c', 'a/b/rel-c');
  link('./c/../c', 'a/b/rel-dots');
  link(`../../../outside/secret`, 'rel-outside'); // root/.. is base: must stay at root
  // Chains.
  link('chain2', 'chain1');
  link('a/chain3', 'chain2');
  link('../abs-etc', 'a/chain3');
  link('/a/b/c/climb-etc/passwd', 'deep-chain');
  // Loops.
  link('loop-b', 'loop-a');
  link('loop-a', 'loop-b');
  link('self', 'self');
  link('/a/loop-dir/x', 'a/loop-dir');
  // A link to something that does not exist yet (a mount point runc would create).
  link('/missing/dir', 'dangling');
  link('../../../nothing-here', 'dangling-up');
  // A link in the middle of a path, then '..' after it: '..' applies to the link's target.
  link('/a/b/c', 'mid');

  if (canChroot) {
    fs.copyFileSync(busybox!, R('busybox'));
    fs.chmodSync(R('busybox'), 0o755);
  }
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

/** dev:ino of what `p` names for a process chrooted to the root, or the error busybox printed. */
function kernelStat(p: string): string {
  const r = spawnSync('chroot', [root, '/busybox', 'stat', '-L', '-c', '%d:%i', p], { encoding: 'utf8' });
  if (r.status !== 0) return `ERR ${r.stderr.trim()}`;
  return r.stdout.trim();
}

function hostStat(p: string): string {
  const st = fs.statSync(p);
  return `${st.dev}:${st.ino}`;
}

function inside(p: string): boolean {
  return p === root || p.startsWith(root + '/');
}

// [unsafe path, expected result relative to the root]
const CASES: Array<[string, string]> = [
  ['', ''],
  ['/', ''],
  ['.', ''],
  ['..', ''],
  ['/../../..', ''],
  ['a/b', 'a/b'],
  ['/a//b/./c/', 'a/b/c'],
  ['a/b/../../../../a', 'a'],
  ['abs-etc', 'etc'],
  ['abs-etc/passwd', 'etc/passwd'],
  ['/abs-etc/../a', 'a'],
  ['a/abs-ab/c', 'a/b/c'],
  ['slash', ''],
  ['slash/slash/etc', 'etc'],
  ['abs-dotdot-etc', 'etc'],
  ['abs-dotdot-etc/passwd', 'etc/passwd'],
  ['abs-dotdot-only', ''],
  ['abs-dotdot-only/a/b', 'a/b'],
  ['host-path', path.join(outside, 'secret').slice(1)],
  ['a/b/c/climb-etc', 'etc'],
  ['a/b/c/climb-etc/passwd', 'etc/passwd'],
  ['a/b/up-root', ''],
  ['a/b/up-root/etc/passwd', 'etc/passwd'],
  ['a/b/c/rel-file', 'a/b/file'],
  ['a/b/rel-c', 'a/b/c'],
  ['a/b/rel-dots', 'a/b/c'],
  ['rel-outside', 'outside/secret'],
  ['chain1', 'etc'],
  ['chain1/passwd', 'etc/passwd'],
  ['deep-chain', 'etc/passwd'],
  ['mid/..', 'a/b'],
  ['mid/../..', 'a'],
  ['mid/../../../../..', ''],
  ['dangling', 'missing/dir'],
  ['dangling/deeper/still', 'missing/dir/deeper/still'],
  ['dangling-up', 'nothing-here'],
  ['no/such/path', 'no/such/path'],
  ['no/such/../path', 'no/path'],
];

describe('secureJoin: expected resolutions', () => {
  it.each(CASES)('%j -> <root>/%s', (unsafe, want) => {
    const got = secureJoin(root, unsafe);
    expect(got).toBe(want === '' ? root : path.join(root, want));
    expect(inside(got), got).toBe(true);
  });

  it('names the same place with or without a trailing slash on the root', () => {
    for (const [unsafe] of CASES) expect(path.resolve(secureJoin(root + '/', unsafe)), unsafe).toBe(secureJoin(root, unsafe));
  });

  it('never names anything outside the root, whatever the input', () => {
    const pieces = ['..', '.', 'a', 'b', 'abs-etc', 'slash', 'a/b/up-root', 'rel-outside', 'host-path', 'mid', 'chain1', 'x'];
    // Every 3-piece combination, absolute and relative.
    for (const p1 of pieces)
      for (const p2 of pieces)
        for (const p3 of pieces) {
          for (const unsafe of [`${p1}/${p2}/${p3}`, `/${p1}/${p2}/${p3}`]) {
            const got = secureJoin(root, unsafe);
            expect(inside(got), `${unsafe} -> ${got}`).toBe(true);
            expect(path.normalize(got), unsafe).toBe(got);
          }
        }
  });

  it('never touches the outside: the outside file is still not reachable', () => {
    for (const unsafe of ['rel-outside/file', 'host-path/../../outside/secret/file', '../outside/secret/file']) {
      const got = secureJoin(root, unsafe);
      expect(inside(got), got).toBe(true);
      expect(fs.existsSync(got), got).toBe(false);
    }
  });

  it('fails on symlink loops instead of spinning', () => {
    for (const unsafe of ['loop-a', 'loop-b/x', 'self', '/a/loop-dir', 'a/loop-dir/y']) {
      expect(() => secureJoin(root, unsafe), unsafe).toThrow(/too many symbolic links/);
    }
  });

  it('follows a long but finite chain (more than the kernel\'s 40, fewer than 255)', () => {
    const dir = R('longchain');
    fs.mkdirSync(dir);
    for (let i = 0; i < 60; i++) fs.symlinkSync(i === 59 ? '/etc' : `l${i + 1}`, path.join(dir, `l${i}`));
    expect(secureJoin(root, '/longchain/l0/passwd')).toBe(R('etc/passwd'));
  });

  it('does not need the root to exist', () => {
    const ghost = path.join(base, 'ghost-root');
    expect(secureJoin(ghost, '/x/../y/./z')).toBe(path.join(ghost, 'y/z'));
    expect(secureJoin(ghost, '../../etc')).toBe(path.join(ghost, 'etc'));
  });
});

describe.skipIf(!canChroot)('secureJoin agrees with the kernel after chroot(root)', () => {
  beforeAll(() => {
    // The oracle itself must work: busybox in the root sees the root's /etc/passwd, not the host's.
    expect(execFileSync('chroot', [root, '/busybox', 'cat', '/abs-dotdot-etc/passwd'], { encoding: 'utf8' })).toBe('inside\n');
  });

  it.each(CASES.map(([p]) => p))('%j names what the kernel names', (unsafe) => {
    const p = unsafe.startsWith('/') ? unsafe : `/${unsafe}`;
    const got = secureJoin(root, unsafe);
    if (fs.existsSync(got)) expect(kernelStat(p)).toBe(hostStat(got));
    // Nothing there for secureJoin: nothing there for the kernel either.
    else expect(kernelStat(p)).toMatch(/^ERR/);
  });

  it('a host path in a link is read inside the root, as the kernel does', () => {
    // `host-path` points at <base>/outside/secret: under chroot that path does not exist.
    expect(kernelStat('/host-path')).toMatch(/^ERR/);
    expect(fs.existsSync(secureJoin(root, 'host-path'))).toBe(false);
  });

  it('a dangling link resolves to where the kernel would create the file', () => {
    // The kernel creates the target of a dangling link on open(O_CREAT): do it under chroot, then look.
    execFileSync('chroot', [root, '/busybox', 'sh', '-c', 'echo made > /dangling-up']);
    expect(fs.readFileSync(secureJoin(root, 'dangling-up'), 'utf8')).toBe('made\n');
    fs.rmSync(R('nothing-here'));
  });

  it('loops are loops for the kernel too', () => {
    for (const p of ['/loop-a', '/self', '/a/loop-dir']) expect(kernelStat(p), p).toMatch(/^ERR/);
  });
});

describe('openInRoot, mkdirAllInRoot, readFileInRoot: the kernel resolves inside the root', () => {
  let rootFd = -1;
  beforeAll(() => {
    rootFd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  });
  afterAll(() => close(rootFd));

  const same = (fd: number, p: string) => {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(p);
    return a.dev === b.dev && a.ino === b.ino;
  };

  it.each(CASES.map(([p]) => p))('%j opens what secureJoin names', (unsafe) => {
    const want = secureJoin(root, unsafe);
    if (!fs.existsSync(want)) return;
    const fd = openInRoot(rootFd, unsafe, O_PATH);
    try {
      expect(same(fd, want)).toBe(true);
    } finally {
      close(fd);
    }
  });

  it('refuses /proc magic links: a link to /proc/self/fd/N or /proc/self/cwd is ELOOP', () => {
    const hostDir = open(outside, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      for (const target of [`/proc/self/fd/${hostDir}`, '/proc/self/cwd', '/proc/self/root']) {
        const proc = open('/', O_PATH | O_DIRECTORY | O_CLOEXEC);
        try {
          // Resolved from the host's root (where /proc is procfs): the magic link itself is what is refused.
          expect(() => openInRoot(proc, `${target}/secret/file`, O_RDONLY), target).toThrow(/ELOOP/);
        } finally {
          close(proc);
        }
      }
    } finally {
      close(hostDir);
    }
  });

  it('mkdirAllInRoot creates through links inside the root, never outside it', () => {
    const fd = mkdirAllInRoot(rootFd, 'a/b/up-root/../../made/here', 0o755);
    close(fd);
    expect(fs.statSync(R('made/here')).isDirectory()).toBe(true);
    expect(fs.existsSync(path.join(base, 'made'))).toBe(false);
    fs.rmSync(R('made'), { recursive: true });
    // A link whose target is missing inside the root (a host path, here) is refused, as runc's MkdirAll does.
    expect(() => mkdirAllInRoot(rootFd, 'host-path/x', 0o755)).toThrow(/symbolic link to nothing/);
    expect(fs.existsSync(path.join(outside, 'secret/x'))).toBe(false);
    expect(() => mkdirAllInRoot(rootFd, 'etc/passwd/sub', 0o755)).toThrow(/ENOTDIR/);
    expect(() => mkdirAllInRoot(rootFd, 'dangling', 0o755)).toThrow(/symbolic link to nothing/);
  });

  it('readFileInRoot reads regular files only, with a cap, and never blocks', () => {
    expect(readFileInRoot(rootFd, '/abs-etc/passwd', 100)).toBe('inside\n');
    expect(() => readFileInRoot(rootFd, '/etc/passwd', 3)).toThrow(/more than the 3/);
    execFileSync('mkfifo', [R('fifo')]);
    fs.symlinkSync('/dev/zero', R('zero'));
    expect(() => readFileInRoot(rootFd, '/fifo', 100)).toThrow(/\/fifo is a FIFO \(named pipe\), not a regular file/);
    expect(() => readFileInRoot(rootFd, '/zero', 100)).toThrow(/\/zero is missing/); // the root has no /dev/zero
    fs.rmSync(R('fifo'));
    fs.rmSync(R('zero'));
  });

  it('readRegularIn reads inside the root (an absolute link is the root\'s), a regular file only, with a cap', () => {
    const read = (rel: string, maxBytes = 100) => readRegularIn(root, rel, { confine: 'in-root', what: rel, maxBytes });
    const reason = (rel: string, maxBytes = 100) => {
      try {
        read(rel, maxBytes);
      } catch (err) {
        return err instanceof UnsafeFileError ? err.reason : String(err);
      }
      return 'read';
    };
    expect(read('/abs-dotdot-etc/passwd')).toBe('inside\n');
    expect(read('a/b/c/climb-etc/passwd')).toBe('inside\n');
    execFileSync('mkfifo', [R('fifo')]);
    try {
      expect([reason('/fifo'), reason('/etc'), reason('/etc/passwd', 3), reason('/host-path/file')]).toEqual(['not-regular', 'not-regular', 'too-big', 'missing']);
    } finally {
      fs.rmSync(R('fifo'));
    }
  });
});
