// The runtime's state directory (src/runtime/state/store.ts): one directory per container id holding
// state.json, claimed atomically, read back, listed, locked and removed. All in a temp root. A claim holds
// the id's lock: `store.claim(id)()` claims and releases at once.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/runtime/runtime-error.js';
import { StateStore, writeFileAtomic, type StateRecord } from '../../src/runtime/state/store.js';
import { REPO_ROOT } from '../helpers/runtime.js';

let tmp: string;
let root: string;
let store: StateStore;
let releases: Array<() => void> = [];

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-state-'));
  root = path.join(tmp, 'root'); // not created: the store makes it on the first claim
  store = new StateStore(root);
});

afterEach(() => {
  for (const release of releases) {
    try {
      release();
    } catch {
      /* already released */
    }
  }
  releases = [];
  fs.rmSync(tmp, { recursive: true, force: true });
});

function record(id: string, extra: Partial<StateRecord> = {}): StateRecord {
  return {
    ociVersion: '1.0.2',
    id,
    pid: 4242,
    pidStartTime: 123456,
    bundle: '/some/bundle',
    rootfs: '/some/bundle/rootfs',
    created: '2024-01-02T03:04:05.000Z',
    owner: '',
    annotations: { 'org.example/key': 'value with spaces', empty: '' },
    cgroups: { version: 1, mode: 'v1', hierarchies: [], created: ['/sys/fs/cgroup/pids/x'], enabled: [] },
    ...extra,
  };
}

/** Calls `fn` and returns the RuntimeError it throws. */
function runtimeError(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    return err as RuntimeError;
  }
  return expect.unreachable('expected a RuntimeError') as never;
}

describe('claim', () => {
  it('creates the root and the id\'s directory', () => {
    store.claim('web')();
    expect(fs.statSync(root).isDirectory()).toBe(true);
    expect(fs.statSync(store.dir('web')).isDirectory()).toBe(true);
    expect(store.dir('web')).toBe(path.join(root, 'web'));
    expect(store.fifoPath('web')).toBe(path.join(root, 'web', 'exec.fifo'));
  });

  it('refuses the same id twice, naming it', () => {
    store.claim('dup-id')();
    const err = runtimeError(() => store.claim('dup-id'));
    expect(err.message).toBe('container with id exists: dup-id');
    // The first claim is untouched.
    expect(fs.statSync(store.dir('dup-id')).isDirectory()).toBe(true);
  });

  it('refuses an id claimed through another store on the same root', () => {
    store.claim('shared')();
    expect(() => new StateStore(root).claim('shared')).toThrow(/container with id exists: shared/);
  });

  it('a claimed id without state.json does not exist yet', () => {
    store.claim('half')();
    expect(store.exists('half')).toBe(false);
    expect(store.list()).toEqual([]);
    expect(runtimeError(() => store.read('half')).message).toBe('container does not exist: half');
  });

  it('reports other failures as what it was doing, on which path, and the errno (not as "exists")', () => {
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'blocker'), '');
    const s2 = new StateStore(path.join(root, 'blocker')); // its root is a file
    const err = runtimeError(() => s2.claim('x'));
    expect(err.message).toBe(`cannot create the state root ${path.join(root, 'blocker')}: EEXIST (file exists)`);
  });

  it('holds the id\'s lock until released', () => {
    const release = store.claim('held');
    releases.push(release);
    expect(flockCli(store.dir('held'), 0.2)).toBe(1);
    release();
    expect(flockCli(store.dir('held'), 2)).toBe(0);
  });
});

describe('read and write', () => {
  it('reading an unknown id says it does not exist', () => {
    expect(runtimeError(() => store.read('ghost')).message).toBe('container does not exist: ghost');
    expect(store.exists('ghost')).toBe(false);
  });

  it('round-trips a record', () => {
    store.claim('rt')();
    const rec = record('rt', { hooks: { poststop: [{ path: '/bin/true', args: ['true', 'x'] }] } });
    store.write(rec);
    expect(store.exists('rt')).toBe(true);
    expect(store.read('rt')).toEqual(rec);
    // What is on disk is plain JSON.
    expect(JSON.parse(fs.readFileSync(path.join(store.dir('rt'), 'state.json'), 'utf8'))).toEqual(rec);
  });

  it('a second write replaces the first and leaves no temp file behind', () => {
    store.claim('re')();
    store.write(record('re', { pid: 1 }));
    store.write(record('re', { pid: 2 }));
    expect(store.read('re').pid).toBe(2);
    expect(fs.readdirSync(store.dir('re'))).toEqual(['state.json']);
  });

  it('an unreadable state.json is reported as such, with the way out', () => {
    store.claim('bad')();
    fs.writeFileSync(path.join(store.dir('bad'), 'state.json'), '{ not json');
    const err = runtimeError(() => store.read('bad'));
    expect(err.message).toMatch(/^state of container bad is unreadable \(.+\); delete --force removes it$/);
  });

  it('a write never exposes a half-written file (rename over the old one)', () => {
    store.claim('atomic')();
    store.write(record('atomic'));
    const before = fs.statSync(path.join(store.dir('atomic'), 'state.json')).ino;
    store.write(record('atomic', { pid: 99 }));
    const after = fs.statSync(path.join(store.dir('atomic'), 'state.json')).ino;
    // A new inode: the file was replaced by rename, not rewritten in place.
    expect(after).not.toBe(before);
  });
});

describe('list, exists, remove', () => {
  it('lists only ids that have a state.json, sorted', () => {
    for (const id of ['zeta', 'alpha', 'mid']) {
      store.claim(id)();
      store.write(record(id));
    }
    store.claim('claimed-only')();
    fs.writeFileSync(path.join(root, 'stray-file'), '');
    fs.mkdirSync(path.join(root, 'stray-dir'));
    expect(store.list()).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('lists nothing when the root does not exist', () => {
    expect(fs.existsSync(root)).toBe(false);
    expect(store.list()).toEqual([]);
  });

  it('remove deletes the directory with everything in it, and the id can be claimed again', () => {
    store.claim('gone')();
    store.write(record('gone'));
    fs.writeFileSync(path.join(store.dir('gone'), 'extra'), 'x');
    store.remove('gone');
    expect(fs.existsSync(store.dir('gone'))).toBe(false);
    expect(store.exists('gone')).toBe(false);
    expect(store.list()).toEqual([]);
    expect(() => store.claim('gone')).not.toThrow();
  });

  it('remove of an unknown id is not an error', () => {
    expect(() => store.remove('never-was')).not.toThrow();
  });
});

describe('writeFileAtomic', () => {
  it('writes the text and leaves no temp file', () => {
    const file = path.join(tmp, 'pid');
    writeFileAtomic(file, '1234');
    expect(fs.readFileSync(file, 'utf8')).toBe('1234');
    expect(fs.readdirSync(tmp).sort()).toEqual(['pid']);
  });

  it('replaces an existing file by rename', () => {
    const file = path.join(tmp, 'pid');
    fs.writeFileSync(file, 'old old old');
    const before = fs.statSync(file).ino;
    writeFileAtomic(file, 'new');
    expect(fs.readFileSync(file, 'utf8')).toBe('new');
    expect(fs.statSync(file).ino).not.toBe(before);
    expect(fs.readdirSync(tmp)).toEqual(['pid']);
  });

  it('fails when the directory does not exist', () => {
    expect(() => writeFileAtomic(path.join(tmp, 'no/such/dir/pid'), 'x')).toThrow();
  });
});

/**
 * A second locker in another process. The first is util-linux flock(1): a flock(2) on the same
 * directory, exits 1 when it cannot get the lock within `waitSec`.
 */
function flockCli(dir: string, waitSec: number): number | null {
  const r = spawnSync('flock', ['--exclusive', '--wait', String(waitSec), dir, 'true'], { timeout: 10_000 });
  return r.status;
}

let bundledStore: string | undefined;

/**
 * The second kind: a child Node process running StateStore.lock itself (src bundled by esbuild, koffi
 * resolved from the repo). It prints "locked" once it holds the lock; it is killed after `timeoutMs`.
 */
function storeLockInChild(storeRoot: string, id: string, timeoutMs: number): { locked: boolean; stderr: string } {
  bundledStore ??= buildSync({
    entryPoints: [path.join(REPO_ROOT, 'src/runtime/state/store.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['koffi'],
    write: false,
    logLevel: 'silent',
  }).outputFiles[0].text;
  const driver = `
const [root, id] = process.argv.slice(-2);
new StateStore(root).lock(id);
process.stdout.write('locked\\n');
`;
  const code = bundledStore.replace(/export\s*\{[^}]*\};?\s*$/, '') + driver;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, '--', storeRoot, id], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  return { locked: r.stdout.includes('locked'), stderr: r.stderr };
}

describe('lock', () => {
  it('fails for an unknown id with "does not exist"', () => {
    expect(runtimeError(() => store.lock('nobody')).message).toBe('container does not exist: nobody');
  });

  it('excludes another process (flock(1)) until released', () => {
    store.claim('locked')();
    const release = store.lock('locked');
    releases.push(release);
    expect(flockCli(store.dir('locked'), 0.3)).toBe(1);
    release();
    expect(flockCli(store.dir('locked'), 2)).toBe(0);
  });

  it('excludes a second StateStore.lock in another process until released', () => {
    store.claim('two')();
    const release = store.lock('two');
    releases.push(release);
    const blocked = storeLockInChild(root, 'two', 1500);
    expect(blocked.locked, blocked.stderr).toBe(false);
    release();
    const free = storeLockInChild(root, 'two', 10_000);
    expect(free.locked, free.stderr).toBe(true);
  });

  it('locks are per id: another id is free while one is held', () => {
    store.claim('one')();
    store.claim('other')();
    releases.push(store.lock('one'));
    expect(flockCli(store.dir('other'), 2)).toBe(0);
    expect(flockCli(store.dir('one'), 0.2)).toBe(1);
  });

  it('the lock goes away with the process that held it', () => {
    store.claim('crash')();
    // The child takes the lock and exits without releasing it.
    const child = storeLockInChild(root, 'crash', 10_000);
    expect(child.locked, child.stderr).toBe(true);
    expect(flockCli(store.dir('crash'), 2)).toBe(0);
  });
});

describe('nothing outside the root', () => {
  it('every method refuses an id runc refuses, before it becomes a path', () => {
    for (const id of ['../x', '.', '..', '', 'a/b', '/etc', 'a\nb', 'x'.repeat(256)]) {
      for (const call of [() => store.dir(id), () => store.claim(id), () => store.read(id), () => store.remove(id), () => store.lock(id), () => store.entry(id), () => store.exists(id)]) {
        expect(call, JSON.stringify(id)).toThrow(/invalid container ID format|container id cannot be empty/);
      }
    }
  });

  it('a state directory that is a symlink is refused, and remove takes the link, never its target', () => {
    const target = path.join(tmp, 'target');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'state.json'), JSON.stringify(record('lnk')));
    fs.mkdirSync(root, { recursive: true });
    fs.symlinkSync(target, path.join(root, 'lnk'));
    expect(store.entry('lnk')).toBe('foreign');
    expect(runtimeError(() => store.read('lnk')).message).toMatch(/is not a container's state directory/);
    expect(runtimeError(() => store.lock('lnk')).message).toMatch(/is not a container's state directory/);
    store.remove('lnk');
    expect(fs.existsSync(path.join(root, 'lnk'))).toBe(false);
    expect(fs.readdirSync(target)).toEqual(['state.json']);
  });

  it('state.json is read only as a regular file: a FIFO or a symlink is refused without hanging', () => {
    store.claim('fifo')();
    spawnSync('mkfifo', [path.join(store.dir('fifo'), 'state.json')]);
    expect(runtimeError(() => store.read('fifo')).message).toMatch(/is not a regular file\); delete --force removes it/);
    store.claim('link')();
    fs.symlinkSync('/etc/hostname', path.join(store.dir('link'), 'state.json'));
    expect(runtimeError(() => store.read('link')).message).toMatch(/is a symbolic link/);
  });

  it('a state.json naming another container is refused', () => {
    store.claim('mine')();
    fs.writeFileSync(path.join(store.dir('mine'), 'state.json'), JSON.stringify(record('other')));
    expect(runtimeError(() => store.read('mine')).message).toMatch(/it names the container "other"/);
  });

  it('the create journal round-trips', () => {
    store.claim('j')();
    expect(store.readJournal('j')).toBeUndefined();
    const journal = { stage: { pid: 12, startTime: 34 }, hooks: [{ pid: 56, startTime: 78 }] };
    store.writeJournal('j', journal);
    expect(store.readJournal('j')).toEqual(journal);
  });
});
