// The content-addressed image store: digests checked on every write and every read, atomic writes,
// resumable streamed writes, refs, garbage collection.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { DigestMismatchError, InvalidDigestError, digestFile, digestHex, sha256Digest } from '../../src/image/digest.js';
import { ImageStore, ImageStoreError, normalizeRef } from '../../src/image/store.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-image-store-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let store: ImageStore;
let n = 0;
beforeEach(() => {
  store = new ImageStore(path.join(work, `store-${n++}`));
});

const HELLO = Buffer.from('hello\n');
const HELLO_DIGEST = 'sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';

function tmpEntries(s: ImageStore): string[] {
  try {
    return fs.readdirSync(path.join(s.root, 'tmp'));
  } catch {
    return [];
  }
}

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

describe('digests', () => {
  test('sha256 of bytes and of a file agree with the known value', async () => {
    expect(sha256Digest(HELLO)).toBe(HELLO_DIGEST);
    const file = path.join(work, 'hello');
    fs.writeFileSync(file, HELLO);
    expect(await digestFile(file)).toBe(HELLO_DIGEST);
  });

  test('only well-formed sha256 digests are accepted', () => {
    expect(digestHex(HELLO_DIGEST)).toBe(HELLO_DIGEST.slice(7));
    expect(() => digestHex('sha512:abcd')).toThrow(/unsupported digest algorithm/);
    expect(() => digestHex('sha256:ABC')).toThrow(InvalidDigestError);
    expect(() => digestHex('../../etc/passwd')).toThrow(InvalidDigestError);
  });
});

describe('writing blobs', () => {
  test('writeBlob stores under blobs/sha256/<hex> and returns the digest', () => {
    expect(store.writeBlob(HELLO)).toBe(HELLO_DIGEST);
    expect(store.blobPath(HELLO_DIGEST)).toBe(path.join(store.root, 'blobs/sha256', HELLO_DIGEST.slice(7)));
    expect(fs.readFileSync(store.blobPath(HELLO_DIGEST))).toEqual(HELLO);
    expect(store.hasBlob(HELLO_DIGEST)).toBe(true);
    expect(tmpEntries(store)).toEqual([]);
  });

  test('writeBlob with a wrong expected digest throws DigestMismatchError and stores nothing', () => {
    const wrong = sha256Digest('something else');
    let caught: unknown;
    try {
      store.writeBlob(HELLO, wrong);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DigestMismatchError);
    expect((caught as DigestMismatchError).expected).toBe(wrong);
    expect((caught as DigestMismatchError).actual).toBe(HELLO_DIGEST);
    expect(store.hasBlob(HELLO_DIGEST)).toBe(false);
    expect(store.hasBlob(wrong)).toBe(false);
    expect(store.blobs()).toEqual([]);
  });

  test('writes are atomic: a new blob replaces the path by rename, a crashed temporary is not a blob', () => {
    store.writeBlob(HELLO);
    const before = fs.statSync(store.blobPath(HELLO_DIGEST)).ino;
    const reader = fs.openSync(store.blobPath(HELLO_DIGEST), 'r'); // a reader of the old file keeps it whole
    try {
      store.writeBlob(HELLO, HELLO_DIGEST);
      expect(fs.statSync(store.blobPath(HELLO_DIGEST)).ino).not.toBe(before);
      const old = Buffer.alloc(HELLO.length);
      fs.readSync(reader, old, 0, old.length, 0);
      expect(old).toEqual(HELLO);
    } finally {
      fs.closeSync(reader);
    }
    // What a crash mid-write leaves: a temporary in tmp/, never a file in blobs/.
    const crashed = store.tempPath('crash');
    fs.writeFileSync(crashed, 'hel');
    expect(store.blobs()).toEqual([HELLO_DIGEST]);
    // garbage collection removes it once its writer (a dead pid) is gone
    fs.renameSync(crashed, crashed.replace(`.${process.pid}.`, '.999999999.'));
    store.garbageCollect();
    expect(tmpEntries(store)).toEqual([]);
  });
});

describe('reading blobs', () => {
  test('readBlob verifies: a blob changed on disk throws DigestMismatchError', () => {
    store.writeBlob(HELLO);
    expect(store.readBlob(HELLO_DIGEST)).toEqual(HELLO);
    fs.writeFileSync(store.blobPath(HELLO_DIGEST), 'hellO\n');
    expect(() => store.readBlob(HELLO_DIGEST)).toThrow(DigestMismatchError);
    fs.truncateSync(store.blobPath(HELLO_DIGEST), 2);
    expect(() => store.readBlob(HELLO_DIGEST)).toThrow(DigestMismatchError);
  });

  test('a missing blob is a clear error', () => {
    expect(() => store.readBlob(HELLO_DIGEST)).toThrow(/is not in the image store/);
  });
});

describe('streamed writes', () => {
  test('writeBlobStream verifies and renames into blobs/', async () => {
    expect(await store.writeBlobStream(chunks('hel', 'lo\n'), HELLO_DIGEST)).toBe(HELLO_DIGEST);
    expect(store.readBlob(HELLO_DIGEST)).toEqual(HELLO);
    expect(store.partialSize(HELLO_DIGEST)).toBe(0);
  });

  test('a stream with the wrong content is rejected and its partial file removed', async () => {
    await expect(store.writeBlobStream(chunks('hello world\n'), HELLO_DIGEST)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(store.hasBlob(HELLO_DIGEST)).toBe(false);
    expect(store.partialSize(HELLO_DIGEST)).toBe(0);
  });

  test('an interrupted stream is resumed from partialSize with append', async () => {
    async function* broken(): AsyncIterable<Uint8Array> {
      yield Buffer.from('hel');
      throw new Error('connection reset');
    }
    await expect(store.writeBlobStream(broken(), HELLO_DIGEST)).rejects.toThrow('connection reset');
    expect(store.hasBlob(HELLO_DIGEST)).toBe(false);
    expect(store.partialSize(HELLO_DIGEST)).toBe(3);
    await store.writeBlobStream(chunks(HELLO.subarray(store.partialSize(HELLO_DIGEST)).toString()), HELLO_DIGEST, { append: true });
    expect(store.readBlob(HELLO_DIGEST)).toEqual(HELLO);
    expect(store.partialSize(HELLO_DIGEST)).toBe(0);
  });

  test('without append a stream starts over', async () => {
    fs.mkdirSync(path.dirname(store.partialPath(HELLO_DIGEST)), { recursive: true });
    fs.writeFileSync(store.partialPath(HELLO_DIGEST), 'garbage');
    await store.writeBlobStream(chunks('hello\n'), HELLO_DIGEST);
    expect(store.readBlob(HELLO_DIGEST)).toEqual(HELLO);
  });

  test('importFile copies (or moves) a file in, verified', async () => {
    const file = path.join(work, 'to-import');
    fs.writeFileSync(file, HELLO);
    await expect(store.importFile(file, { expected: sha256Digest('x') })).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await store.importFile(file, { expected: HELLO_DIGEST })).toBe(HELLO_DIGEST);
    expect(fs.existsSync(file)).toBe(true);
    expect(await store.importFile(file, { move: true })).toBe(HELLO_DIGEST);
    expect(fs.existsSync(file)).toBe(false);
    expect(tmpEntries(store)).toEqual([]);
  });
});

describe('refs', () => {
  test('names are normalised as docker shows them', () => {
    expect(normalizeRef('busybox')).toBe('busybox:latest');
    expect(normalizeRef('busybox:1.36')).toBe('busybox:1.36');
    expect(normalizeRef('docker.io/library/alpine:3.19')).toBe('alpine:3.19');
    expect(normalizeRef('docker.io/user/app')).toBe('user/app:latest');
    expect(normalizeRef('localhost:5000/x')).toBe('localhost:5000/x:latest');
    expect(normalizeRef('ghcr.io/a/b:v1')).toBe('ghcr.io/a/b:v1');
    expect(() => normalizeRef('two words')).toThrow(ImageStoreError);
  });

  test('tag, resolve, list and untag; refs.json is written atomically', () => {
    const digest = store.writeBlob(Buffer.from('{"schemaVersion":2}'));
    store.tag('busybox', digest);
    store.tag('docker.io/library/alpine:3', digest);
    expect(store.resolve('busybox')).toBe(digest);
    expect(store.resolve('busybox:latest')).toBe(digest);
    expect(store.resolve('alpine:3')).toBe(digest);
    expect(store.resolve('nothere')).toBeUndefined();
    expect(store.list()).toEqual([
      { ref: 'alpine:3', digest },
      { ref: 'busybox:latest', digest },
    ]);
    const file = JSON.parse(fs.readFileSync(path.join(store.root, 'refs.json'), 'utf8'));
    expect(file).toEqual({ version: 1, refs: { 'alpine:3': digest, 'busybox:latest': digest } });
    expect(tmpEntries(store)).toEqual([]);
    // a second store object over the same root sees the same refs
    expect(new ImageStore(store.root).resolve('busybox')).toBe(digest);
    expect(store.untag('busybox')).toBe(true);
    expect(store.untag('busybox')).toBe(false);
    expect(store.resolve('busybox')).toBeUndefined();
  });

  test('a tag must point at a manifest that is in the store', () => {
    expect(() => store.tag('x', sha256Digest('absent'))).toThrow(/not in the store/);
  });

  test('resolve accepts digests, name@digest and unique digest prefixes', () => {
    const a = store.writeBlob(Buffer.from('{"a":1}'));
    const b = store.writeBlob(Buffer.from('{"b":2}'));
    store.tag('a', a);
    store.tag('b', b);
    expect(store.resolve(a)).toBe(a);
    expect(store.resolve(`a@${a}`)).toBe(a);
    expect(store.resolve(a.slice(7, 19))).toBe(a);
    expect(store.resolve(`sha256:${b.slice(7, 19)}`)).toBe(b);
    expect(store.resolve(sha256Digest('absent'))).toBeUndefined();
    // an ambiguous prefix: two blobs whose digests share their first 4 hex digits
    const seen = new Map<string, Buffer>();
    let pair: [Buffer, Buffer] | undefined;
    for (let i = 0; !pair; i++) {
      const bytes = Buffer.from(`{"n":${i}}`);
      const prefix = sha256Digest(bytes).slice(7, 11);
      const other = seen.get(prefix);
      if (other) pair = [other, bytes];
      seen.set(prefix, bytes);
    }
    const x = store.writeBlob(pair[0]);
    store.tag('x', x);
    store.tag('y', store.writeBlob(pair[1]));
    expect(() => store.resolve(x.slice(7, 11))).toThrow(/ambiguous/);
  });
});

describe('garbage collection', () => {
  function image(layerText: string): { manifest: string; config: string; layer: string } {
    const layer = store.writeBlob(Buffer.from(layerText));
    const config = store.writeBlob(Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [layer] } })));
    const manifest = store.writeBlob(
      Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: config }, layers: [{ digest: layer }] })),
    );
    return { manifest, config, layer };
  }

  test('removes what no tag reaches (blobs and unpacked layers), keeps the rest', () => {
    const kept = image('kept layer');
    const dropped = image('dropped layer');
    const index = store.writeBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ digest: kept.manifest }] })));
    store.tag('kept', index);
    store.tag('dropped', dropped.manifest);
    for (const d of [kept.layer, dropped.layer]) fs.mkdirSync(store.layerPath(d), { recursive: true });
    expect(store.garbageCollect()).toEqual([]);
    store.untag('dropped');
    expect(store.garbageCollect()).toEqual([dropped.manifest, dropped.config, dropped.layer].sort());
    expect(store.blobs()).toEqual([index, kept.manifest, kept.config, kept.layer].sort());
    expect(fs.existsSync(store.layerPath(kept.layer))).toBe(true);
    expect(fs.existsSync(store.layerPath(dropped.layer))).toBe(false);
  });
});
