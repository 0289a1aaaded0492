// A hostile image corpus, through tslab's own command line (`tslab import`, `pull`, `images`, `rmi`, `run`)
// with TSLAB_DATA_DIR in a temp dir: traversal, absolute paths, symlink-then-file, hardlinks out, devices,
// setuid files, whiteouts (`.wh..wh..opq`, `.wh.../..`), sizes that lie, gzip bombs, digest mismatches
// (a cached layer's included), a symlinked /etc/passwd and config, configs whose fields are attacker text,
// and archives whose own entries reach out. Every image is built here, entry by entry.
//
// What must hold after each: nothing outside the store changed (a canary tree beside the data dir, and
// any path named with this run's token in /tmp), the store holds only its own layout (no staging dir, no
// temporary, nothing a `..` put there), every refusal is one sentence on one line (no stack, no file
// content), a refused image is not tagged, and what is accepted is out of reach of other users (a setuid
// binary and a 0666 device node unpacked from a layer are tried as uid 65534).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { dockerSave, entriesOf, ociLayout, rawTar, sha256, type RawEntry } from './images/hostile-archives.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSLAB = path.join(REPO_ROOT, 'bin', 'tslab.cjs');
// setpriv itself keeps its capabilities until its execve: the path is walked by a shell that has none.
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', '"$0" "$@"'];

const runBase = (inject as unknown as (key: string) => { base?: string } | undefined)('tslabTest')?.base ?? os.tmpdir();
fs.mkdirSync(runBase, { recursive: true });
const work = fs.mkdtempSync(path.join(runBase, 'hostile-images-'));
fs.chmodSync(work, 0o755); // as a data dir's parent usually is (/var/lib): only the data dir itself may keep others out
const data = path.join(work, 'data');
const store = path.join(data, 'images');
const archives = path.join(work, 'archives');
const canary = path.join(work, 'canary');
const token = randomBytes(4).toString('hex');
const SECRET = `canary secret ${token}`;
/** The text of a config that is no JSON: an archive's own content, stored as a blob, never quoted in a message. */
const NOT_JSON = `$6$not-json-${token}`;
const OUTSIDE = `/tmp/tslab-hostile-${token}`;
// From a layer's staging dir (data/images/layers/.staging-*) or an import's (data/images/tmp/import.*), four
// levels up is `work`: `../../../../canary` is the canary tree.
const UP4 = '../../../../';
const DEEP = '../'.repeat(24);

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function tslab(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Result> {
  const started = Date.now();
  const child = spawn(process.execPath, [TSLAB, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', TSLAB_DATA_DIR: data, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ...out, ms: Date.now() - started });
    }),
  );
}

const shown = (r: Result) => `exit ${r.code ?? r.signal} after ${r.ms} ms\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}`;

// ---- what must not change -------------------------------------------------------------------------

function makeCanary(): void {
  fs.mkdirSync(path.join(canary, 'dir'), { recursive: true });
  fs.mkdirSync(path.join(canary, 'etc'));
  fs.writeFileSync(path.join(canary, 'secret'), `${SECRET}\n`);
  fs.writeFileSync(path.join(canary, 'dir', 'file'), 'canary file\n');
  fs.writeFileSync(path.join(canary, 'etc', 'passwd'), 'root:x:0:0:canary:/root:/bin/sh\n');
}

/** Everything under `work` but the data dir, the archives and the registry's storage: path -> mode, size, mtime, links. */
function snapshot(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(work, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (r === 'data' || r === 'archives' || r === 'registry') continue;
      const st = fs.lstatSync(path.join(work, r));
      found.set(r, `${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.nlink}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  for (const name of fs.readdirSync('/tmp')) if (name.includes(token)) found.set(`/tmp/${name}`, 'made by a hostile image');
  return found;
}

const HEX = /^[a-f0-9]{64}$/;

/** What the data dir holds beyond the store's own layout (and the engine's dirs), and any temporaries. */
function strayInDataDir(): string[] {
  const stray: string[] = [];
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  for (const name of list(data)) if (!['images', 'containers', 'runtime', 'network'].includes(name)) stray.push(`data/${name}`);
  for (const name of list(store)) if (!['blobs', 'layers', 'tmp', 'partial', 'refs.json', 'refs.lock'].includes(name)) stray.push(`images/${name}`);
  for (const name of list(path.join(store, 'blobs'))) if (name !== 'sha256') stray.push(`blobs/${name}`);
  for (const name of list(path.join(store, 'blobs', 'sha256'))) if (!HEX.test(name)) stray.push(`blobs/sha256/${name}`);
  for (const name of list(path.join(store, 'layers'))) {
    if (!HEX.test(name.replace(/\.diff_id$/, ''))) stray.push(`layers/${name}`);
  }
  for (const name of list(path.join(store, 'tmp'))) stray.push(`tmp/${name}`);
  for (const name of list(path.join(store, 'partial'))) stray.push(`partial/${name}`);
  return stray;
}

let shadowSecrets: string[] = [];

/**
 * One line, "tslab: " and a sentence: no stack frame, no error class name, no file content. With
 * `afterProgress`, the lines before it are pull's progress (stderr is no terminal here).
 */
function expectOneSentence(r: Result, pattern: RegExp, afterProgress = false): void {
  expect(r.code, shown(r)).toBe(1);
  const text = afterProgress ? `${r.stderr.trimEnd().split('\n').at(-1)}\n` : r.stderr;
  expect(r.stderr.match(/^tslab: /gm), shown(r)).toHaveLength(1);
  expect(text, shown(r)).toMatch(/^tslab: [^\n]+\n$/);
  expect(text.length, shown(r)).toBeLessThan(600);
  expect(text).not.toMatch(/\n\s+at |TypeError|RangeError|ReferenceError|\bENOTEMPTY\b/);
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(NOT_JSON);
  for (const s of shadowSecrets) expect(text).not.toContain(s);
  expect(text, shown(r)).toMatch(pattern);
}

async function imageRefs(): Promise<string[]> {
  const r = await tslab(['--json', 'images']);
  expect(r.code, shown(r)).toBe(0);
  return (JSON.parse(r.stdout) as Array<{ ref: string }>).map((i) => i.ref);
}

// ---- building images ----------------------------------------------------------------------------------

const gz = (b: Buffer) => zlib.gzipSync(b);
let n = 0;
const fresh = (name: string) => path.join(archives, `${n++}-${name}`);

/** An OCI layout dir with one gzip layer of exactly `entries`. */
function layerImage(name: string, entries: RawEntry[], opts: { end?: boolean } = {}): string {
  const tarBytes = rawTar(entries, opts);
  return ociLayout(fresh(name), { layers: [{ blob: gz(tarBytes), diffId: sha256(tarBytes) }] }).dir;
}

/** A tar file of the layout at `dir`, with `extra` entries first. */
function tarOfLayout(dir: string, extra: RawEntry[] = []): string {
  const file = `${dir}.tar`;
  fs.writeFileSync(file, rawTar([...extra, ...entriesOf(dir)]));
  return file;
}

const BUSYBOX = '/bin/busybox';

/** The base of the images meant to run: the host's static busybox and `sh`. */
function busyboxEntries(): RawEntry[] {
  return [
    { path: 'bin/', type: 'Directory' },
    { path: 'bin/busybox', data: fs.readFileSync(BUSYBOX), mode: 0o755 },
    { path: 'bin/sh', type: 'SymbolicLink', linkpath: 'busybox' },
    { path: 'etc/', type: 'Directory' },
    { path: 'tmp/', type: 'Directory', mode: 0o1777 },
  ];
}

interface RefusedCase {
  name: string;
  build: () => string;
  pattern: RegExp;
  env?: NodeJS.ProcessEnv;
}

const MiB = 1024 * 1024;

const layerCases: RefusedCase[] = [
  { name: 'traversal with ..', build: () => layerImage('dotdot', [{ path: `${UP4}canary/pwned`, data: 'x' }]), pattern: /contains '\.\.'; a layer may not reach outside itself/ },
  { name: 'traversal into the store itself', build: () => layerImage('dotdot-store', [{ path: `../pwned-${token}`, data: 'x' }]), pattern: /contains '\.\.'/ },
  { name: 'deep traversal to /tmp', build: () => layerImage('dotdot-deep', [{ path: `${DEEP}tmp/tslab-hostile-${token}`, data: 'x' }]), pattern: /contains '\.\.'/ },
  { name: 'an absolute path', build: () => layerImage('absolute', [{ path: OUTSIDE, data: 'x' }]), pattern: /is absolute; a layer may only name paths inside itself/ },
  {
    name: 'a symlink out, then a file through it',
    build: () => layerImage('symlink-file', [{ path: 'evil', type: 'SymbolicLink', linkpath: `${UP4}canary` }, { path: 'evil/pwned', data: 'x' }]),
    pattern: /goes through the symlink "evil"; a layer may not write through a symlink/,
  },
  {
    name: 'an absolute symlink, then a file through it',
    build: () => layerImage('abs-symlink-file', [{ path: 'evil', type: 'SymbolicLink', linkpath: '/tmp' }, { path: `evil/tslab-hostile-${token}`, data: 'x' }]),
    pattern: /through the symlink/,
  },
  {
    name: 'a symlink replacing a directory, then a directory and a file through it',
    build: () =>
      layerImage('symlink-dir-file', [
        { path: 'd/', type: 'Directory' },
        { path: 'd', type: 'SymbolicLink', linkpath: `../${UP4}canary` },
        { path: 'd/sub/', type: 'Directory' },
        { path: 'd/sub/pwned', data: 'x' },
      ]),
    pattern: /through the symlink "d"/,
  },
  { name: 'a hardlink out with ..', build: () => layerImage('hardlink-dotdot', [{ path: 'h', type: 'Link', linkpath: `${UP4}canary/secret` }]), pattern: /hardlink "h" -> .*contains '\.\.'/ },
  { name: 'a hardlink to an absolute path', build: () => layerImage('hardlink-abs', [{ path: 'h', type: 'Link', linkpath: '/etc/shadow' }]), pattern: /hardlink "h" -> .*is absolute/ },
  {
    name: 'a hardlink through a symlink out',
    build: () => layerImage('hardlink-symlink', [{ path: 's', type: 'SymbolicLink', linkpath: '/etc' }, { path: 'h', type: 'Link', linkpath: 's/shadow' }]),
    pattern: /hardlink "h" -> "s\/shadow".*through the symlink "s"/,
  },
  { name: 'a whiteout of ..', build: () => layerImage('whiteout-dotdot', [{ path: 'etc/', type: 'Directory' }, { path: 'etc/.wh...' }]), pattern: /whiteout "etc\/\.wh\.\.\." does not name a file/ },
  { name: 'the whiteout .wh.../..', build: () => layerImage('whiteout-dir-dotdot', [{ path: '.wh.../..' }]), pattern: /contains '\.\.'/ },
  {
    name: 'an opaque marker through a symlink out',
    build: () => layerImage('opaque-symlink', [{ path: 's', type: 'SymbolicLink', linkpath: `${UP4}canary` }, { path: 's/.wh..wh..opq' }]),
    pattern: /through the symlink "s"/,
  },
  {
    name: 'a whiteout through a symlink out',
    build: () => layerImage('whiteout-symlink', [{ path: 's', type: 'SymbolicLink', linkpath: `${UP4}canary` }, { path: 's/.wh.secret' }]),
    pattern: /through the symlink "s"/,
  },
  {
    name: 'a size lie: the header claims more than the archive holds',
    build: () => layerImage('size-long', [{ path: 'file', data: 'x'.repeat(10), headerSize: MiB }], { end: false }),
    pattern: /is not a readable tar archive: Truncated input/,
  },
  {
    name: 'a size lie: the header claims less than the data',
    build: () => layerImage('size-short', [{ path: 'file', data: 'A'.repeat(3000), headerSize: 10 }, { path: 'next', data: 'y' }]),
    pattern: /is not a readable tar archive/,
  },
  {
    name: 'a size lie: one header claims 5 GiB',
    build: () => layerImage('size-huge', [{ path: 'file', data: 'x', headerSize: 5 * 1024 ** 3 }], { end: false }),
    pattern: /expands to more than 1 GiB, the most tslab unpacks from it \(TSLAB_MAX_LAYER_SIZE\); if you trust the image, raise the cap.*claims 5 GiB/,
  },
  {
    name: 'a gzip bomb: one file of zeros',
    build: () => layerImage('bomb-one', [{ path: 'zeros', data: Buffer.alloc(64 * MiB) }]),
    pattern: /expands to more than 8 MiB, the most tslab unpacks from it \(TSLAB_MAX_LAYER_SIZE\); if you trust the image, raise the cap, e\.g\. TSLAB_MAX_LAYER_SIZE=/,
    env: { TSLAB_MAX_LAYER_SIZE: '8M' },
  },
  {
    name: 'a gzip bomb: many files of zeros, each under the cap',
    build: () => layerImage('bomb-many', Array.from({ length: 48 }, (_, i) => ({ path: `zeros-${i}`, data: Buffer.alloc(MiB) }))),
    pattern: /expands to more than 8 MiB, the most tslab unpacks from it \(TSLAB_MAX_LAYER_SIZE\)/,
    env: { TSLAB_MAX_LAYER_SIZE: '8M' },
  },
  {
    name: 'gzip inside gzip',
    build: () => {
      const t = rawTar([{ path: 'file', data: 'x' }]);
      return ociLayout(fresh('double-gzip'), { layers: [{ blob: gz(gz(t)), diffId: sha256(gz(t)) }] }).dir;
    },
    pattern: /is compressed twice/,
  },
  {
    name: 'a layer blob that does not hash to its digest',
    build: () => {
      const t = rawTar([{ path: 'file', data: 'x' }]);
      const layout = ociLayout(fresh('blob-digest'), { layers: [{ blob: gz(t), diffId: sha256(t) }] });
      const blob = path.join(layout.dir, 'blobs/sha256', layout.layerDigests[0].slice(7));
      fs.writeFileSync(blob, gz(rawTar([{ path: 'other', data: 'y'.repeat(20) }])).subarray(0, fs.statSync(blob).size));
      return layout.dir;
    },
    pattern: /digest mismatch, expected sha256:[a-f0-9]{64} but the content hashes to sha256:[a-f0-9]{64}/,
  },
  {
    name: 'a config whose diff_id does not match the layer',
    build: () => ociLayout(fresh('diff-id'), { layers: [{ blob: gz(rawTar([{ path: 'file', data: 'x' }])), diffId: sha256('something else') }] }).dir,
    pattern: /layer 0 \(sha256:[a-f0-9]{64}\) of .*the config's diff_id\): digest mismatch/,
  },
  {
    name: 'a descriptor whose size lies',
    build: () => {
      const t = rawTar([{ path: 'file', data: 'x' }]);
      return ociLayout(fresh('desc-size'), { layers: [{ blob: gz(t), diffId: sha256(t) }], layerSizes: [10] }).dir;
    },
    pattern: /has \d+ bytes, its descriptor says 10/,
  },
];

/** An OCI layout whose file `which` is replaced by a symlink to `target` (or by a FIFO). */
function layoutWithLink(name: string, which: 'config' | 'index.json' | 'oci-layout' | 'layer', target: string | 'fifo'): string {
  const t = rawTar([{ path: 'file', data: 'x' }]);
  const layout = ociLayout(fresh(name), { layers: [{ blob: gz(t), diffId: sha256(t) }] });
  const file =
    which === 'config' ? `blobs/sha256/${layout.configDigest.slice(7)}` : which === 'layer' ? `blobs/sha256/${layout.layerDigests[0].slice(7)}` : which;
  fs.rmSync(path.join(layout.dir, file));
  if (target === 'fifo') execFileSync('mkfifo', [path.join(layout.dir, file)]);
  else fs.symlinkSync(target, path.join(layout.dir, file));
  return layout.dir;
}

function configImage(name: string, config: unknown): string {
  const t = rawTar([{ path: 'file', data: 'x' }]);
  return ociLayout(fresh(name), { layers: [{ blob: gz(t), diffId: sha256(t) }], config }).dir;
}

const archiveCases: RefusedCase[] = [
  { name: 'a config that is a symlink to /etc/shadow', build: () => layoutWithLink('config-shadow', 'config', '/etc/shadow'), pattern: /is \(or goes through\) a symlink that leads out of the archive/ },
  { name: 'index.json as a symlink to /etc/shadow', build: () => layoutWithLink('index-shadow', 'index.json', '/etc/shadow'), pattern: /neither an OCI image layout|leads out of the archive/ },
  { name: 'a layer blob that is a symlink to /dev/zero', build: () => layoutWithLink('layer-zero', 'layer', '/dev/zero'), pattern: /leads out of the archive/ },
  { name: 'a config that is a relative symlink out', build: () => layoutWithLink('config-relative', 'config', `../../../canary/secret`), pattern: /leads out of the archive/ },
  { name: 'a config that is a FIFO', build: () => layoutWithLink('config-fifo', 'config', 'fifo'), pattern: /is a FIFO \(named pipe\), not a regular file/ },
  {
    name: 'a config that is not JSON (text such as a shadow file)',
    build: () => {
      const t = rawTar([{ path: 'file', data: 'x' }]);
      return ociLayout(fresh('config-text'), { layers: [{ blob: gz(t), diffId: sha256(t) }], configBytes: Buffer.from(`root:${NOT_JSON}:19000:0:99999:7:::\n`) }).dir;
    },
    pattern: /is not valid JSON/,
  },
  { name: 'Env with a bare name (copied from the host by the engine)', build: () => configImage('env-bare', { Env: ['PATH=/bin', 'TSLAB_REGISTRY_PASSWORD'] }), pattern: /Env\[1\] is not NAME=VALUE/ },
  { name: 'a uid that overflows', build: () => configImage('user-overflow', { User: '4294967295' }), pattern: /User "4294967295" has the id 4294967295, outside 0-2147483647/ },
  { name: 'a relative WorkingDir', build: () => configImage('workdir-relative', { WorkingDir: '../../proc/self/fd/7' }), pattern: /WorkingDir "\.\.\/\.\.\/proc\/self\/fd\/7" is not an absolute path/ },
  { name: 'a Cmd that is a string', build: () => configImage('cmd-string', { Cmd: 'sh -c true' }), pattern: /Cmd is string, not a list of strings/ },
  { name: 'an Env of 300 KiB', build: () => configImage('env-huge', { Env: [`BIG=${'x'.repeat(300 * 1024)}`] }), pattern: /Env\[0\] is \d+ bytes long, more than the 131071 tslab accepts/ },
  { name: 'an Entrypoint with a NUL byte', build: () => configImage('nul', { Entrypoint: ['/bin/sh\u0000-c'] }), pattern: /Entrypoint\[0\] contains a NUL byte/ },
  {
    name: 'an archive entry ../ (the import temp dir must go)',
    build: () => tarOfLayout(configImage('outer-dotdot', {}), [{ path: `${UP4}canary/pwned`, data: 'x' }]),
    pattern: /archive entry ".*canary\/pwned" is not a path inside the archive/,
  },
  {
    name: 'an archive entry with an absolute path',
    build: () => tarOfLayout(configImage('outer-absolute', {}), [{ path: OUTSIDE, data: 'x' }]),
    pattern: /archive entry "\/tmp\/tslab-hostile-[a-f0-9]+" is not a path inside the archive/,
  },
  {
    name: 'an archive whose config entry is a symlink to /etc/shadow',
    build: () => {
      const dir = configImage('outer-symlink', {});
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).manifests[0].digest.slice(7)), 'utf8')).config.digest.slice(7);
      const entries = entriesOf(dir).map((e) => (e.path === `blobs/sha256/${config}` ? { path: e.path, type: 'SymbolicLink' as const, linkpath: '/etc/shadow' } : e));
      const file = `${dir}.tar`;
      fs.writeFileSync(file, rawTar(entries));
      return file;
    },
    pattern: /link "blobs\/sha256\/[a-f0-9]{64}" -> "\/etc\/shadow" is not a path inside the archive/,
  },
  {
    name: 'a docker save archive with a hardlink out',
    build: () => {
      const file = `${fresh('save-hardlink')}.tar`;
      fs.writeFileSync(file, dockerSave([rawTar(busyboxEntries())], { Cmd: ['sh'] }, 'hostile/save:v1', [{ path: 'x', type: 'Link', linkpath: `${UP4}canary/secret` }]));
      return file;
    },
    pattern: /link "x" -> ".*canary\/secret" is not a path inside the archive/,
  },
  {
    name: 'a gzip bomb as the archive itself',
    build: () => {
      const file = `${fresh('archive-bomb')}.tar.gz`;
      fs.writeFileSync(file, gz(rawTar([{ path: 'zeros', data: Buffer.alloc(64 * MiB) }])));
      return file;
    },
    pattern: /the archive .* expands to more than 8 MiB, the most tslab unpacks from it \(TSLAB_MAX_IMPORT_SIZE\)/,
    env: { TSLAB_MAX_IMPORT_SIZE: '8M' },
  },
  { name: 'a character device as the archive', build: () => '/dev/zero', pattern: /\/dev\/zero is a character device: tslab imports an OCI image layout/ },
  {
    name: 'a FIFO as the archive',
    build: () => {
      const file = fresh('fifo');
      execFileSync('mkfifo', [file]);
      return file;
    },
    pattern: /is a FIFO \(named pipe\): tslab imports an OCI image layout/,
  },
];

// ---- the tests --------------------------------------------------------------------------------------

let before: Map<string, string>;

beforeAll(async () => {
  makeCanary();
  fs.mkdirSync(archives);
  try {
    shadowSecrets = fs
      .readFileSync('/etc/shadow', 'utf8')
      .split('\n')
      .map((l) => l.split(':')[1] ?? '')
      .filter((h) => h.length > 3);
  } catch {
    shadowSecrets = [];
  }
  // A data dir as an older tslab left it: open to everyone.
  fs.mkdirSync(data, { mode: 0o755 });
  fs.chmodSync(data, 0o755);
  before = snapshot();
  const r = await tslab(['images']); // makes the built-in image: the store exists from here on
  expect(r.code, shown(r)).toBe(0);
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
  for (const name of fs.readdirSync('/tmp')) if (name.includes(token)) fs.rmSync(path.join('/tmp', name), { recursive: true, force: true });
});

describe('the data dir and the store are private to root', () => {
  test('a data dir left 0755 is made 0700 on the next command, and so is the store', () => {
    expect(fs.statSync(data).mode & 0o777).toBe(0o700);
    expect(fs.statSync(store).mode & 0o777).toBe(0o700);
  });

  test('a data dir another user owns is refused as root, with a sentence', async () => {
    const theirs = path.join(work, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o700 });
    fs.chownSync(theirs, 65534, 65534);
    const r = await tslab(['images'], { TSLAB_DATA_DIR: theirs });
    fs.rmSync(theirs, { recursive: true, force: true });
    expectOneSentence(r, /the data dir .*theirs belongs to uid 65534, not root: .*chown it to root or choose another TSLAB_DATA_DIR/);
  });
});

describe('refused layers: nothing written outside the store, one sentence, not tagged', () => {
  test.each(layerCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const archive = c.build();
    const ref = `hostile/refused-${n}:v1`;
    const r = await tslab(['import', archive, ref], c.env);
    expectOneSentence(r, c.pattern);
    expect(r.ms, 'a refusal comes quickly').toBeLessThan(20_000);
    expect(snapshot()).toEqual(before);
    expect(strayInDataDir()).toEqual([]);
    expect(await imageRefs()).not.toContain(ref);
  });
});

describe('refused archives and configs: nothing read from outside, nothing written outside, one sentence', () => {
  test.each(archiveCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const archive = c.build();
    const ref = `hostile/refused-${n}:v1`;
    const r = await tslab(['import', archive, ref], c.env, 20_000);
    expect(r.signal, `a hang (killed after 20 s): ${shown(r)}`).toBeNull();
    expectOneSentence(r, c.pattern);
    expect(snapshot()).toEqual(before);
    expect(strayInDataDir()).toEqual([]);
    expect(await imageRefs()).not.toContain(ref);
    // No blob of the store holds the canary or the host's shadow file.
    for (const name of fs.readdirSync(path.join(store, 'blobs/sha256'))) {
      const blob = fs.readFileSync(path.join(store, 'blobs/sha256', name));
      expect(blob.includes(SECRET)).toBe(false);
      for (const s of shadowSecrets) expect(blob.includes(s)).toBe(false);
    }
  });
});

describe('a cached layer is checked again by id', () => {
  test("an image reusing an unpacked layer under a wrong diff_id is refused", async () => {
    const t = rawTar([{ path: 'shared', data: 'shared layer\n' }]);
    const blob = gz(t);
    const good = ociLayout(fresh('cached-good'), { layers: [{ blob, diffId: sha256(t) }] });
    const ok = await tslab(['import', good.dir, 'hostile/cached-good:v1']);
    expect(ok.code, shown(ok)).toBe(0);
    expect(fs.existsSync(path.join(store, 'layers', good.layerDigests[0].slice(7)))).toBe(true);
    const lying = ociLayout(fresh('cached-lying'), { layers: [{ blob, diffId: sha256('not this layer') }], config: { Cmd: ['other'] } });
    const r = await tslab(['import', lying.dir, 'hostile/cached-lying:v1']);
    expectOneSentence(r, /as unpacked, against the config's diff_id\): digest mismatch/);
    expect(await imageRefs()).not.toContain('hostile/cached-lying:v1');
    expect(snapshot()).toEqual(before);
    expect(strayInDataDir()).toEqual([]);
  });
});

describe('accepted, and contained: setuid files, devices, whiteouts, a symlinked /etc/passwd', () => {
  const ref = 'hostile/contained:v1';
  let layerDirs: string[] = [];

  beforeAll(async () => {
    const base = rawTar([
      ...busyboxEntries(),
      { path: 'bin/id', data: fs.readFileSync('/usr/bin/id'), mode: 0o4755 },
      { path: 'etc/passwd', type: 'SymbolicLink', linkpath: '/etc/shadow' },
      { path: 'dev/', type: 'Directory' },
      { path: 'dev/mem-copy', type: 'CharacterDevice', devmaj: 1, devmin: 1, mode: 0o666 },
      { path: 'dev/disk-copy', type: 'BlockDevice', devmaj: 7, devmin: 0, mode: 0o666 },
      { path: 'dev/fifo', type: 'FIFO', mode: 0o666 },
      { path: 'opq/', type: 'Directory' },
      { path: 'opq/old', data: 'hidden by the opaque marker\n' },
      { path: 'gone', data: 'whited out\n' },
    ]);
    const upper = rawTar([{ path: 'opq/', type: 'Directory' }, { path: 'opq/.wh..wh..opq' }, { path: '.wh.gone' }, { path: 'opq/new', data: 'new\n' }]);
    const layout = ociLayout(fresh('contained'), { layers: [base, upper].map((t) => ({ blob: gz(t), diffId: sha256(t) })), config: { Cmd: ['/bin/busybox', 'true'] } });
    const r = await tslab(['import', layout.dir, ref]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toBe(`Loaded image: ${ref}\n`);
    layerDirs = layout.layerDigests.map((d) => path.join(store, 'layers', d.slice(7)));
  });

  test('import unpacked it (no run needed to find out) and lists it', async () => {
    expect(await imageRefs()).toContain(ref);
    expect(fs.statSync(path.join(layerDirs[0], 'bin/id')).mode & 0o7777).toBe(0o4755);
    expect(fs.statSync(path.join(layerDirs[0], 'dev/mem-copy')).isCharacterDevice()).toBe(true);
    expect(fs.readlinkSync(path.join(layerDirs[0], 'etc/passwd'))).toBe('/etc/shadow');
    expect(fs.statSync(path.join(layerDirs[1], 'gone')).rdev).toBe(0); // overlayfs's whiteout: a 0/0 char device
    expect(snapshot()).toEqual(before);
    expect(strayInDataDir()).toEqual([]);
  });

  test("uid 65534 reaches neither the layer's setuid binary nor its 0666 device node", () => {
    const id = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), path.join(layerDirs[0], 'bin/id')], { encoding: 'utf8' });
    expect(id.stdout).not.toMatch(/euid=0/);
    expect(id.status).not.toBe(0);
    expect(id.stderr).toMatch(/Permission denied/);
    const mem = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), 'head', '-c1', path.join(layerDirs[0], 'dev/mem-copy')], { encoding: 'utf8' });
    expect(mem.status).not.toBe(0);
    expect(mem.stderr).toMatch(/Permission denied/);
    const list = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), 'ls', data], { encoding: 'utf8' });
    expect(list.status).not.toBe(0);
  });

  test('a container of it still starts (the overlay lowerdirs are used by root)', async () => {
    const r = await tslab(['run', '--rm', '--network', 'none', ref, '/bin/busybox', 'sh', '-c', 'test ! -e /gone && test -e /opq/new && test ! -e /opq/old && echo started']);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toBe('started\n');
  });

  test("the image's /etc/passwd, a symlink to /etc/shadow, is looked up inside the image", async () => {
    const r = await tslab(['run', '--rm', '--network', 'none', '-u', 'root', ref, '/bin/busybox', 'true'], {}, 30_000);
    expect(r.code, shown(r)).not.toBe(0);
    expect(r.stderr).toMatch(/^tslab: [^\n]+\n$/);
    for (const s of shadowSecrets) expect(r.stderr).not.toContain(s);
  });

  test('rmi removes it: its blobs and unpacked layers, no temporaries left', async () => {
    for (const tag of [ref, 'hostile/cached-good:v1']) {
      const r = await tslab(['rmi', tag]);
      expect(r.code, shown(r)).toBe(0);
    }
    for (const d of layerDirs) {
      expect(fs.existsSync(d)).toBe(false);
      expect(fs.existsSync(`${d}.diff_id`)).toBe(false);
    }
    expect(await imageRefs()).toEqual(['busybox:latest']);
    expect(strayInDataDir()).toEqual([]);
    expect(snapshot()).toEqual(before);
  });
});

describe('tslab pull of hostile images from a registry on 127.0.0.1', () => {
  let registry: TestRegistry;
  const regDir = path.join(work, 'registry');

  beforeAll(async () => {
    registry = await startRegistry(regDir);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  test.each([
    ['a gzip bomb', [{ path: 'zeros', data: Buffer.alloc(64 * MiB) }], /expands to more than 8 MiB.*TSLAB_MAX_LAYER_SIZE/],
    ['a traversal', [{ path: `${UP4}canary/pwned`, data: 'x' }], /contains '\.\.'/],
    ['a symlink then a file', [{ path: 'evil', type: 'SymbolicLink', linkpath: `${UP4}canary` }, { path: 'evil/pwned', data: 'x' }], /through the symlink "evil"/],
  ] as Array<[string, RawEntry[], RegExp]>)('%s is refused, not tagged, and leaves nothing behind', async (name, entries, pattern) => {
    const repo = `hostile/${name.replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '')}`;
    await pushImage(registry.url, repo, 'v1', { layers: [gz(rawTar(entries))] });
    const r = await tslab(['pull', `${registry.host}/${repo}:v1`], { TSLAB_MAX_LAYER_SIZE: '8M' });
    expectOneSentence(r, pattern, true);
    expect(await imageRefs()).not.toContain(`${registry.host}/${repo}:v1`);
    expect(snapshot()).toEqual(before);
    expect(strayInDataDir()).toEqual([]);
  });
});
