// The content-addressed image store. Layout under its root (default <dataDir>/images):
//
//   blobs/sha256/<hex>       manifests, configs and layer blobs, each named by the sha256 of its bytes
//   partial/<hex>.partial    an interrupted streamed write (a download), resumed by appending
//   tmp/                     temporaries of atomic writes (same filesystem, so rename() moves them in)
//   layers/<hex>/            a layer blob unpacked for overlayfs (see image.ts layerDirs)
//   layers/<hex>.diff_id     the digest its uncompressed tar had when it was unpacked (checked on reuse)
//   refs.json                tags: { "version": 1, "refs": { "busybox:latest": "sha256:..." } }
//
// Every blob is verified when it is written (the bytes must hash to the expected digest before they are
// renamed into blobs/) and again when it is read (readBlob hashes what it read). A blob appears in
// blobs/ only by rename(2), so a reader never sees half a blob, and a crash leaves at most a temporary.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOCK_EX, flock } from '../linux/fs.js';
import { dataDir, makePrivateDir } from '../fs/data-dir.js';
import { Digester, DigestMismatchError, digestHex, isDigest, sha256Digest, verifyDigest } from './digest.js';
import { isIndexMediaType } from './media-types.js';

export { DigestMismatchError } from './digest.js';

export class ImageStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageStoreError';
  }
}

interface RefsFile {
  version: 1;
  refs: Record<string, string>;
}

const DOCKER_HUB_PREFIXES = ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/'];

/**
 * The canonical form a ref is stored under: a tag is added when there is none ("busybox" ->
 * "busybox:latest", "localhost:5000/x" -> "localhost:5000/x:latest") and Docker Hub's implicit names are
 * dropped ("docker.io/library/alpine:3" -> "alpine:3", "docker.io/user/app" -> "user/app:latest"), as
 * `docker images` shows them. A ref with a digest ("name@sha256:...") is returned as it is.
 */
export function normalizeRef(ref: string): string {
  const r = ref.trim();
  if (!r || /\s/.test(r) || r.startsWith('/') || r.endsWith('/') || r.endsWith(':')) {
    throw new ImageStoreError(`not an image reference: ${JSON.stringify(ref)}`);
  }
  if (r.includes('@')) return r;
  let name = r;
  for (const prefix of DOCKER_HUB_PREFIXES) {
    if (name.startsWith(prefix)) {
      name = name.slice(prefix.length);
      if (name.startsWith('library/') && name.indexOf('/', 'library/'.length) === -1) name = name.slice('library/'.length);
      break;
    }
  }
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.includes(':') ? name : `${name}:latest`;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) === 'EPERM';
  }
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

/** The most bytes a JSON blob (manifest, index, config) may have: they are read whole into memory. */
export const MAX_JSON_BLOB = 8 * 1024 * 1024;

/** Copies everything `fd` holds, from offset 0, into the new file `dest`, hashing it on the way. */
function copyFromFd(fd: number, dest: string, digester: Digester): void {
  const out = fs.openSync(dest, 'wx', 0o600);
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      digester.update(buf.subarray(0, n));
      writeAllSync(out, buf.subarray(0, n));
    }
    fs.fsyncSync(out);
  } finally {
    fs.closeSync(out);
  }
}

export class ImageStore {
  readonly root: string;
  private privateRoot = false;

  constructor(root?: string) {
    this.root = path.resolve(root ?? path.join(dataDir(), 'images'));
  }

  /**
   * Creates the root if missing, private to its owner (0700), and tightens it if it is open to others:
   * unpacked layers hold the image author's setuid binaries and device nodes. Done before the store writes.
   */
  ensurePrivateRoot(): void {
    if (this.privateRoot) return;
    makePrivateDir(this.root, 'the image store');
    this.privateRoot = true;
  }

  // ---- paths ----

  blobPath(digest: string): string {
    return path.join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  partialPath(digest: string): string {
    return path.join(this.root, 'partial', `${digestHex(digest)}.partial`);
  }

  /** Where layerDirs keeps the unpacked form of a layer blob. */
  layerPath(digest: string): string {
    return path.join(this.root, 'layers', digestHex(digest));
  }

  /** Where the diff_id a layer had when it was unpacked is kept (next to its directory, not inside it). */
  layerDiffIdPath(digest: string): string {
    return `${this.layerPath(digest)}.diff_id`;
  }

  /** A fresh, unique path in the store's tmp dir (same filesystem as the blobs); `tag` helps humans. */
  tempPath(tag: string): string {
    this.ensurePrivateRoot();
    fs.mkdirSync(path.join(this.root, 'tmp'), { recursive: true });
    return path.join(this.root, 'tmp', `${tag}.${process.pid}.${randomBytes(6).toString('hex')}`);
  }

  // ---- blobs ----

  hasBlob(digest: string): boolean {
    return isDigest(digest) && fs.existsSync(this.blobPath(digest));
  }

  blobSize(digest: string): number {
    return fs.statSync(this.blobPath(digest)).size;
  }

  /** The blob's bytes, hashed again on every read: a blob changed on disk throws DigestMismatchError. */
  readBlob(digest: string, maxBytes?: number): Buffer {
    let data: Buffer;
    try {
      if (maxBytes !== undefined && fs.statSync(this.blobPath(digest)).size > maxBytes) {
        throw new ImageStoreError(`blob ${digest} is ${fs.statSync(this.blobPath(digest)).size} bytes, more than the ${maxBytes} a manifest, index or config may have`);
      }
      data = fs.readFileSync(this.blobPath(digest));
    } catch (err) {
      if (errCode(err) === 'ENOENT') throw new ImageStoreError(`blob ${digest} is not in the image store (${this.root})`);
      throw err;
    }
    verifyDigest(sha256Digest(data), digest, `blob ${this.blobPath(digest)}`);
    return data;
  }

  /** A JSON blob (manifest, index, config), verified and parsed. */
  readJson<T = unknown>(digest: string): T {
    const data = this.readBlob(digest, MAX_JSON_BLOB);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch {
      // Not the parser's message: it quotes the text, which may be anything (a host file, a secret).
      throw new ImageStoreError(`blob ${digest} is not valid JSON, so it is no manifest, index or config`);
    }
  }

  /** Stores `data` (atomically: temp file, fsync, rename) and returns its digest; with `expected`, refuses other bytes. */
  writeBlob(data: Buffer, expected?: string): string {
    const actual = sha256Digest(data);
    if (expected !== undefined) {
      digestHex(expected);
      verifyDigest(actual, expected);
    }
    const dest = this.blobPath(actual);
    const tmp = this.tempPath(digestHex(actual).slice(0, 16));
    try {
      const fd = fs.openSync(tmp, 'wx', 0o644);
      try {
        writeAllSync(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.renameSync(tmp, dest);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    return actual;
  }

  /**
   * Streams `source` into partial/<hex>.partial, then verifies and renames it into blobs/. With
   * `append`, the bytes already in the partial file (partialSize) count as the start of the blob: a
   * download resumed from that offset. If `source` fails, the partial file stays for a resume; if the
   * finished content has the wrong digest, it is deleted and DigestMismatchError is thrown.
   */
  async writeBlobStream(source: AsyncIterable<Uint8Array>, expected: string, opts: { append?: boolean } = {}): Promise<string> {
    const hex = digestHex(expected);
    this.ensurePrivateRoot();
    const partial = this.partialPath(expected);
    fs.mkdirSync(path.dirname(partial), { recursive: true });
    const digester = new Digester();
    if (opts.append && fs.existsSync(partial)) {
      for await (const chunk of fs.createReadStream(partial)) digester.update(chunk as Buffer);
    }
    const handle = await fs.promises.open(partial, opts.append ? 'a' : 'w', 0o644);
    try {
      for await (const chunk of source) {
        let off = 0;
        while (off < chunk.length) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
        digester.update(chunk);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const actual = digester.digest();
    if (actual !== expected) {
      fs.rmSync(partial, { force: true });
      throw new DigestMismatchError(expected, actual, `streamed blob ${hex}`);
    }
    const dest = this.blobPath(expected);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(partial, dest);
    return expected;
  }

  /** Bytes of an interrupted writeBlobStream for this digest (0 if none). */
  partialSize(digest: string): number {
    try {
      return fs.statSync(this.partialPath(digest)).size;
    } catch {
      return 0;
    }
  }

  /**
   * Stores a file that is already on disk: `file` is renamed into tmp/ when `move` is set (it must be on
   * the store's filesystem and is consumed), else copied from there; an open `{ fd }` (of a file opened
   * safely by the caller) is copied from offset 0. What is in tmp/ is hashed, verified against `expected`
   * and renamed into blobs/, so what is verified is exactly what is stored. Returns the digest.
   */
  async importFile(file: string | { fd: number; label: string }, opts: { expected?: string; move?: boolean } = {}): Promise<string> {
    if (opts.expected !== undefined) digestHex(opts.expected);
    const tmp = this.tempPath('import');
    const label = typeof file === 'string' ? file : file.label;
    try {
      const digester = new Digester();
      if (typeof file !== 'string') {
        copyFromFd(file.fd, tmp, digester);
      } else {
        if (opts.move) fs.renameSync(file, tmp);
        else fs.copyFileSync(file, tmp);
        for await (const chunk of fs.createReadStream(tmp)) digester.update(chunk as Buffer);
      }
      const actual = digester.digest();
      if (opts.expected !== undefined) verifyDigest(actual, opts.expected, label);
      const dest = this.blobPath(actual);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.chmodSync(tmp, 0o644);
      fs.renameSync(tmp, dest);
      return actual;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** Every blob digest in the store. */
  blobs(): string[] {
    try {
      return fs
        .readdirSync(path.join(this.root, 'blobs', 'sha256'))
        .filter((name) => /^[a-f0-9]{64}$/.test(name))
        .map((hex) => `sha256:${hex}`)
        .sort();
    } catch {
      return [];
    }
  }

  // ---- refs ----

  private refsPath(): string {
    return path.join(this.root, 'refs.json');
  }

  private readRefs(): Record<string, string> {
    let text: string;
    try {
      text = fs.readFileSync(this.refsPath(), 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return {};
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<RefsFile>;
    return parsed.refs ?? {};
  }

  /** Runs `change` on the refs under an exclusive flock and writes the result atomically. */
  private updateRefs<T>(change: (refs: Record<string, string>) => T): T {
    this.ensurePrivateRoot();
    const lock = fs.openSync(path.join(this.root, 'refs.lock'), 'a', 0o644);
    try {
      flock(lock, LOCK_EX, path.join(this.root, 'refs.lock'));
      const refs = this.readRefs();
      const result = change(refs);
      const sorted: Record<string, string> = {};
      for (const key of Object.keys(refs).sort()) sorted[key] = refs[key];
      const file: RefsFile = { version: 1, refs: sorted };
      const tmp = this.tempPath('refs');
      try {
        fs.writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o644 });
        fs.renameSync(tmp, this.refsPath());
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      return result;
    } finally {
      fs.closeSync(lock); // releases the flock
    }
  }

  /** Points `ref` (normalised, see normalizeRef) at a manifest (or index) that is in the store. */
  tag(ref: string, manifestDigest: string): void {
    const name = normalizeRef(ref);
    if (name.includes('@')) throw new ImageStoreError(`cannot tag with a digest reference: ${ref}`);
    if (!this.hasBlob(manifestDigest)) throw new ImageStoreError(`cannot tag ${name}: manifest ${manifestDigest} is not in the store`);
    this.updateRefs((refs) => {
      refs[name] = manifestDigest;
    });
  }

  untag(ref: string): boolean {
    let name: string;
    try {
      name = normalizeRef(ref);
    } catch {
      return false;
    }
    if (!(name in this.readRefs())) return false;
    return this.updateRefs((refs) => {
      const had = name in refs;
      delete refs[name];
      return had;
    });
  }

  list(): Array<{ ref: string; digest: string }> {
    return Object.entries(this.readRefs())
      .map(([ref, digest]) => ({ ref, digest }))
      .sort((a, b) => a.ref.localeCompare(b.ref));
  }

  /**
   * The manifest digest a ref names: a tag ("busybox", "busybox:latest"), "name@sha256:...", a full
   * digest of a manifest in the store, or a unique prefix (4+ hex digits, "sha256:" optional) of a tagged
   * manifest's digest. Undefined when nothing matches; throws when a prefix matches several.
   */
  resolve(ref: string): string | undefined {
    const r = ref.trim();
    if (!r) return undefined;
    const at = r.lastIndexOf('@');
    if (at > 0) {
      const digest = r.slice(at + 1);
      return this.hasBlob(digest) ? digest : undefined;
    }
    if (isDigest(r)) return this.hasBlob(r) ? r : undefined;
    const refs = this.readRefs();
    try {
      const name = normalizeRef(r);
      if (refs[name]) return refs[name];
    } catch {
      /* not a name: maybe a prefix */
    }
    const prefix = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(r)?.[1];
    if (!prefix) return undefined;
    const matches = [...new Set(Object.values(refs))].filter((d) => d.startsWith(`sha256:${prefix}`));
    if (matches.length > 1) {
      throw new ImageStoreError(`${r} is ambiguous: it starts ${matches.length} image digests (${matches.join(', ')}); give more digits`);
    }
    return matches[0];
  }

  // ---- garbage collection ----

  /** Blobs reachable from a manifest or index: itself, child manifests present here, config and layers. */
  private reachable(digest: string, into: Set<string>, depth = 0): void {
    if (into.has(digest) || !this.hasBlob(digest) || depth > 8) return;
    into.add(digest);
    let doc: { mediaType?: string; manifests?: Array<{ digest?: string }>; config?: { digest?: string }; layers?: Array<{ digest?: string }> };
    try {
      doc = this.readJson(digest);
    } catch {
      return; // not JSON (or corrupt): nothing further is reachable through it
    }
    if (isIndexMediaType(doc.mediaType) || Array.isArray(doc.manifests)) {
      for (const m of doc.manifests ?? []) if (isDigest(m.digest)) this.reachable(m.digest, into, depth + 1);
    }
    if (isDigest(doc.config?.digest)) into.add(doc.config.digest);
    for (const layer of doc.layers ?? []) if (isDigest(layer.digest)) into.add(layer.digest);
  }

  /** Layer directories an overlay mount of this mount namespace uses as a lower layer. */
  private layersInUse(): Set<string> {
    const inUse = new Set<string>();
    let mountinfo = '';
    try {
      mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return inUse;
    }
    const layersDir = path.join(this.root, 'layers') + '/';
    for (const line of mountinfo.split('\n')) {
      const right = line.split(' - ')[1];
      if (!right || !right.startsWith('overlay ')) continue;
      let idx = right.indexOf(layersDir);
      while (idx !== -1) {
        const hex = /^[a-f0-9]{64}/.exec(right.slice(idx + layersDir.length))?.[0];
        if (hex) inUse.add(`sha256:${hex}`);
        idx = right.indexOf(layersDir, idx + 1);
      }
    }
    return inUse;
  }

  /**
   * Removes every blob no tag reaches, and every unpacked layer whose blob no tag reaches (a layer an
   * overlay mount of this mount namespace still uses is kept, and so is its blob); also leftovers of
   * crashed processes (staging dirs, temporaries). Returns the digests removed. Not safe against a
   * concurrent import that has written blobs but not yet tagged them.
   */
  garbageCollect(): string[] {
    const keep = new Set<string>();
    for (const { digest } of this.list()) this.reachable(digest, keep);
    for (const digest of this.layersInUse()) keep.add(digest);
    const removed = new Set<string>();
    for (const digest of this.blobs()) {
      if (keep.has(digest)) continue;
      fs.rmSync(this.blobPath(digest), { force: true });
      removed.add(digest);
    }
    const layersDir = path.join(this.root, 'layers');
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(layersDir);
    } catch {
      /* no layers unpacked yet */
    }
    for (const name of entries) {
      const full = path.join(layersDir, name);
      const layer = /^([a-f0-9]{64})(\.diff_id)?$/.exec(name);
      if (layer) {
        if (keep.has(`sha256:${layer[1]}`)) continue;
        fs.rmSync(full, { recursive: true, force: true });
        if (!layer[2]) removed.add(`sha256:${layer[1]}`);
      } else {
        // .staging-<hex>-<pid>-<rand>: an unpack in progress, or left by a crash.
        const pid = Number(/^\.staging-[a-f0-9]{64}-(\d+)-/.exec(name)?.[1]);
        if (!pidAlive(pid)) fs.rmSync(full, { recursive: true, force: true });
      }
    }
    let temps: string[] = [];
    try {
      temps = fs.readdirSync(path.join(this.root, 'tmp'));
    } catch {
      /* none */
    }
    for (const name of temps) {
      const pid = Number(/\.(\d+)\.[a-f0-9]+$/.exec(name)?.[1]);
      if (!pidAlive(pid)) fs.rmSync(path.join(this.root, 'tmp', name), { recursive: true, force: true });
    }
    return [...removed].sort();
  }
}
