// Unpacking a layer: what a well-formed layer becomes on disk, whiteouts applied to a flattened tree, and
// malicious layers (.., absolute paths, writes through symlinks, hardlinks out) rejected with nothing
// written outside the target. The archives are crafted here with the tar package's Header class, so they
// hold exactly the entries a test wants (tar.c would refuse to write the malicious ones). Caps: bytes,
// entries, path lengths, and a compressed stream inside the compressed stream.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Header } from 'tar';
import { afterAll, describe, expect, test } from 'vitest';
import { DigestMismatchError, sha256Digest } from '../../src/image/digest.js';
import { LimitError } from '../../src/image/limits.js';
import { LayerFormatError, LayerSecurityError, unpackLayer } from '../../src/image/unpack.js';
import { rawTar } from '../security/images/hostile-archives.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-image-unpack-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface Spec {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkpath?: string;
  data?: string;
}

const T2001 = new Date('2001-02-03T04:05:06Z');

function tarOf(specs: Spec[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of specs) {
    const data = Buffer.from(s.data ?? '');
    const type = s.type ?? 'File';
    const h = new Header({
      path: s.path,
      type,
      mode: s.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: s.uid ?? 0,
      gid: s.gid ?? 0,
      size: type === 'File' ? data.length : 0,
      mtime: s.mtime ?? T2001,
      linkpath: s.linkpath,
    });
    h.encode();
    parts.push(h.block as Buffer);
    if (type === 'File' && data.length) parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

let count = 0;
function writeArchive(data: Buffer): string {
  const file = path.join(work, `layer-${count++}.tar`);
  fs.writeFileSync(file, data);
  return file;
}

/** A fresh case dir: <case>/target (to unpack into) and <case>/outside (a sentinel that must stay as it is). */
function freshCase(): { dir: string; target: string; outside: string } {
  const dir = path.join(work, `case-${count++}`);
  const target = path.join(dir, 'target');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(target, { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'sentinel\n');
  return { dir, target, outside };
}

function listTree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('a well-formed layer', () => {
  test('files, directories, symlinks, hardlinks, fifos: content, modes, owners and times', async () => {
    const { target } = freshCase();
    const file = writeArchive(
      tarOf([
        { path: './', type: 'Directory', mode: 0o755 },
        { path: './a/', type: 'Directory', mode: 0o750, uid: 1234, gid: 5678 },
        { path: './a/f', data: 'hello\n', mode: 0o640, uid: 1234, gid: 5678 },
        { path: './a/l', type: 'SymbolicLink', linkpath: 'f', uid: 1234, gid: 5678 },
        { path: './a/h', type: 'Link', linkpath: './a/f' },
        { path: './bin/su', data: '#!/bin/sh\n', mode: 0o4755, uid: 0, gid: 0 },
        { path: './x/y/z', data: 'implicit parents\n' },
        { path: './p', type: 'FIFO', mode: 0o600 },
        { path: './ro/', type: 'Directory', mode: 0o555 },
        { path: './ro/inside', data: 'written before ro/ got its mode\n' },
        { path: './empty', data: '', mode: 0o600 },
        { path: './.wh..wh.plnk/123.456', data: 'AUFS bookkeeping, skipped' },
      ]),
    );
    const fds = fs.readdirSync('/proc/self/fd').length;
    await unpackLayer(file, target);
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fds);
    const empty = fs.lstatSync(path.join(target, 'empty'));
    expect([empty.size, empty.mode & 0o7777, empty.mtime.getTime()]).toEqual([0, 0o600, T2001.getTime()]);
    expect(fs.existsSync(path.join(target, '.wh..wh.plnk'))).toBe(false);
    const f = fs.lstatSync(path.join(target, 'a/f'));
    expect(fs.readFileSync(path.join(target, 'a/f'), 'utf8')).toBe('hello\n');
    expect(f.mode & 0o7777).toBe(0o640);
    expect(f.mtime.getTime()).toBe(T2001.getTime());
    expect(f.nlink).toBe(2);
    expect(fs.lstatSync(path.join(target, 'a/h')).ino).toBe(f.ino);
    expect(fs.readlinkSync(path.join(target, 'a/l'))).toBe('f');
    expect(fs.lstatSync(path.join(target, 'bin/su')).mode & 0o7777).toBe(0o4755);
    expect(fs.readFileSync(path.join(target, 'x/y/z'), 'utf8')).toBe('implicit parents\n');
    expect(fs.lstatSync(path.join(target, 'p')).isFIFO()).toBe(true);
    const a = fs.lstatSync(path.join(target, 'a'));
    expect(a.mode & 0o7777).toBe(0o750);
    expect(a.mtime.getTime()).toBe(T2001.getTime()); // set after its children were made
    expect(fs.lstatSync(path.join(target, 'ro')).mode & 0o7777).toBe(0o555);
    expect(fs.readFileSync(path.join(target, 'ro/inside'), 'utf8')).toMatch(/written/);
    if (process.getuid?.() === 0) {
      expect([f.uid, f.gid]).toEqual([1234, 5678]);
      expect([a.uid, a.gid]).toEqual([1234, 5678]);
      const l = fs.lstatSync(path.join(target, 'a/l'));
      expect([l.uid, l.gid]).toEqual([1234, 5678]);
    }
  });

  test('gzip is detected by its magic; digest and diff_id are verified', async () => {
    const plain = tarOf([{ path: 'f', data: 'zipped\n' }]);
    const gz = zlib.gzipSync(plain);
    const file = writeArchive(gz);
    const { target } = freshCase();
    await unpackLayer(file, target, { digest: sha256Digest(gz), diffId: sha256Digest(plain) });
    expect(fs.readFileSync(path.join(target, 'f'), 'utf8')).toBe('zipped\n');
    await expect(unpackLayer(file, freshCase().target, { digest: sha256Digest(plain) })).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(unpackLayer(file, freshCase().target, { diffId: sha256Digest(gz) })).rejects.toBeInstanceOf(DigestMismatchError);
  });

  test('an empty layer (only end-of-archive blocks, plain or gzip) unpacks to nothing', async () => {
    for (const data of [Buffer.alloc(1024), zlib.gzipSync(Buffer.alloc(1024))]) {
      const { target } = freshCase();
      await unpackLayer(writeArchive(data), target);
      expect(fs.readdirSync(target)).toEqual([]);
    }
  });

  test('a later entry replaces an earlier one at the same path', async () => {
    const { target } = freshCase();
    await unpackLayer(
      writeArchive(
        tarOf([
          { path: 'x', data: 'first' },
          { path: 'x', data: 'second' },
          { path: 'd/', type: 'Directory' },
          { path: 'd/child', data: 'c' },
          { path: 'd', data: 'now a file' },
        ]),
      ),
      target,
    );
    expect(fs.readFileSync(path.join(target, 'x'), 'utf8')).toBe('second');
    expect(fs.readFileSync(path.join(target, 'd'), 'utf8')).toBe('now a file');
  });
});

describe('broken archives', () => {
  test('a truncated archive is a LayerFormatError', async () => {
    const full = tarOf([{ path: 'big', data: 'x'.repeat(5000) }]);
    const fds = fs.readdirSync('/proc/self/fd').length;
    await expect(unpackLayer(writeArchive(full.subarray(0, 2048)), freshCase().target)).rejects.toBeInstanceOf(LayerFormatError);
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fds); // the half-written file was closed
  });

  test('a broken gzip stream is a LayerFormatError', async () => {
    const gz = zlib.gzipSync(tarOf([{ path: 'f', data: 'x'.repeat(3000) }]));
    await expect(unpackLayer(writeArchive(gz.subarray(0, gz.length - 12)), freshCase().target)).rejects.toBeInstanceOf(LayerFormatError);
    const garbled = Buffer.from(gz);
    garbled[12] ^= 0xff;
    await expect(unpackLayer(writeArchive(garbled), freshCase().target)).rejects.toBeInstanceOf(LayerFormatError);
  });

  test('a header with a bad checksum is a LayerFormatError', async () => {
    const data = tarOf([{ path: 'f', data: 'x' }]);
    data[0] = 'g'.charCodeAt(0); // the name changes, the checksum does not
    await expect(unpackLayer(writeArchive(data), freshCase().target)).rejects.toBeInstanceOf(LayerFormatError);
  });

  test('a hardlink to something not (yet) in the layer is a LayerFormatError', async () => {
    await expect(unpackLayer(writeArchive(tarOf([{ path: 'h', type: 'Link', linkpath: 'nothere' }])), freshCase().target)).rejects.toBeInstanceOf(LayerFormatError);
  });
});

describe('whiteouts applied to a flattened tree (overlayWhiteouts: false)', () => {
  test('.wh.<name> removes the file below; an opaque marker empties its directory of the lower layer', async () => {
    const { target } = freshCase();
    await unpackLayer(
      writeArchive(
        tarOf([
          { path: 'etc/', type: 'Directory' },
          { path: 'etc/gone', data: 'lower' },
          { path: 'etc/stays', data: 'lower' },
          { path: 'opq/', type: 'Directory' },
          { path: 'opq/old', data: 'lower' },
          { path: 'opq/sub/', type: 'Directory' },
          { path: 'olddir/', type: 'Directory' },
          { path: 'olddir/x', data: 'lower' },
        ]),
      ),
      target,
    );
    await unpackLayer(
      writeArchive(
        tarOf([
          { path: 'etc/.wh.gone' },
          { path: '.wh.olddir' },
          { path: 'opq/', type: 'Directory' },
          { path: 'opq/new', data: 'upper' }, // written before the marker: kept
          { path: 'opq/.wh..wh..opq' },
          { path: 'opq/newer', data: 'upper' }, // after it: kept too
        ]),
      ),
      target,
    );
    expect(listTree(target)).toEqual(['etc', 'etc/stays', 'opq', 'opq/new', 'opq/newer']);
  });
});

describe('malicious layers are rejected with LayerSecurityError and write nothing outside', () => {
  const cases: Array<{ name: string; entries: (outside: string) => Spec[]; first?: (outside: string) => Spec[]; overlay?: boolean }> = [
    { name: "a path with '..'", entries: () => [{ path: '../outside/x', data: 'escaped' }] },
    { name: "a '..' hidden in the middle", entries: () => [{ path: 'a/../../outside/x', data: 'escaped' }] },
    { name: 'an absolute path', entries: (outside) => [{ path: path.join(outside, 'abs'), data: 'escaped' }] },
    {
      name: 'a symlink to outside, then a file through it',
      entries: (outside) => [
        { path: 'a', type: 'SymbolicLink', linkpath: outside },
        { path: 'a/file', data: 'escaped' },
      ],
    },
    {
      name: 'a relative symlink out, then a directory and a file through it',
      entries: () => [
        { path: 'a', type: 'SymbolicLink', linkpath: '../outside' },
        { path: 'a/sub/', type: 'Directory' },
        { path: 'a/sub/file', data: 'escaped' },
      ],
    },
    {
      name: 'a symlink replacing a directory made earlier, then a file through it',
      entries: (outside) => [
        { path: 'd/', type: 'Directory' },
        { path: 'd', type: 'SymbolicLink', linkpath: outside },
        { path: 'd/file', data: 'escaped' },
      ],
    },
    { name: "a hardlink to '../../etc/passwd'", entries: () => [{ path: 'h', type: 'Link', linkpath: '../../etc/passwd' }] },
    { name: 'a hardlink to an absolute path', entries: () => [{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }] },
    {
      name: 'a hardlink through a symlink to outside',
      entries: (outside) => [
        { path: 's', type: 'SymbolicLink', linkpath: outside },
        { path: 'h', type: 'Link', linkpath: 's/keep' },
      ],
    },
    { name: "a whiteout of '..'", entries: () => [{ path: 'a/.wh...' }] },
    {
      name: 'a whiteout through a symlink to outside',
      entries: (outside) => [
        { path: 's', type: 'SymbolicLink', linkpath: outside },
        { path: 's/.wh.keep' },
      ],
    },
    {
      name: 'an opaque marker through a symlink to outside',
      entries: (outside) => [
        { path: 's', type: 'SymbolicLink', linkpath: outside },
        { path: 's/.wh..wh..opq' },
      ],
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const { dir, target, outside } = freshCase();
      const passwdBefore = fs.statSync('/etc/passwd');
      const around = listTree(dir);
      const file = writeArchive(tarOf(c.entries(outside)));
      const err = await unpackLayer(file, target).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LayerSecurityError);
      expect((err as Error).message).toMatch(/symlink|'\.\.'|absolute|does not name/);
      // nothing outside the target changed
      expect(listTree(outside)).toEqual(['keep']);
      expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).toBe('sentinel\n');
      expect(fs.readdirSync(dir).sort()).toEqual(['outside', 'target']);
      expect(listTree(dir).filter((p) => !p.startsWith('target'))).toEqual(around.filter((p) => !p.startsWith('target')));
      const passwdAfter = fs.statSync('/etc/passwd');
      expect([passwdAfter.nlink, passwdAfter.mtimeMs, passwdAfter.size]).toEqual([passwdBefore.nlink, passwdBefore.mtimeMs, passwdBefore.size]);
    });
  }

  test('a file replacing a symlink (or a hardlink of a symlink) is written in place, not through it', async () => {
    const { target, outside } = freshCase();
    await unpackLayer(
      writeArchive(
        tarOf([
          { path: 'l', type: 'SymbolicLink', linkpath: path.join(outside, 'keep') },
          { path: 'l', data: 'new file' },
          { path: 's', type: 'SymbolicLink', linkpath: path.join(outside, 'keep') },
          { path: 'h', type: 'Link', linkpath: 's' },
          { path: 'h', data: 'another' },
          { path: 'd', type: 'SymbolicLink', linkpath: outside },
          { path: 'd/', type: 'Directory' },
        ]),
      ),
      target,
    );
    expect(fs.lstatSync(path.join(target, 'l')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(target, 'l'), 'utf8')).toBe('new file');
    expect(fs.readFileSync(path.join(target, 'h'), 'utf8')).toBe('another');
    expect(fs.readlinkSync(path.join(target, 's'))).toBe(path.join(outside, 'keep'));
    expect(fs.lstatSync(path.join(target, 'd')).isDirectory()).toBe(true);
    expect(listTree(outside)).toEqual(['keep']);
    expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).toBe('sentinel\n');
  });
});

describe('caps: a layer expands only so far, counted while it streams', () => {
  const zeros = (n: number) => 'z'.repeat(n);

  test('more bytes than the cap: a LimitError naming the cap and its variable, at the cap', async () => {
    const { target } = freshCase();
    const specs = Array.from({ length: 40 }, (_, i) => ({ path: `f${i}`, data: zeros(64 * 1024) }));
    const err = await unpackLayer(writeArchive(zlib.gzipSync(tarOf(specs))), target, { limits: { maxBytes: 1024 * 1024 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as Error).message).toMatch(/expands to more than 1 MiB, the most tslab unpacks from it \(TSLAB_MAX_LAYER_SIZE\); if you trust the image, raise the cap, e\.g\. TSLAB_MAX_LAYER_SIZE=2G/);
    const written = listTree(target).reduce((sum, f) => sum + fs.statSync(path.join(target, f)).size, 0);
    expect(written).toBeLessThanOrEqual(1024 * 1024);
  });

  test('TSLAB_MAX_LAYER_SIZE sets the cap; a value that is no size is refused with a sentence', async () => {
    const file = writeArchive(tarOf([{ path: 'f', data: zeros(4096) }]));
    process.env.TSLAB_MAX_LAYER_SIZE = '2K';
    try {
      await expect(unpackLayer(file, freshCase().target)).rejects.toThrow(/more than 2 KiB.*TSLAB_MAX_LAYER_SIZE/);
      process.env.TSLAB_MAX_LAYER_SIZE = 'lots';
      await expect(unpackLayer(file, freshCase().target)).rejects.toThrow(/TSLAB_MAX_LAYER_SIZE="lots" is not a size: give bytes, or a number with K, M, G or T/);
      process.env.TSLAB_MAX_LAYER_SIZE = '1M';
      await unpackLayer(file, freshCase().target);
    } finally {
      delete process.env.TSLAB_MAX_LAYER_SIZE;
    }
  });

  test('an entry whose header alone claims more than the cap is refused before any of it is written', async () => {
    const { target } = freshCase();
    const h = new Header({ path: 'huge', type: 'File', mode: 0o644, size: 8 * 1024 ** 3 - 1, mtime: T2001 });
    h.encode();
    await expect(unpackLayer(writeArchive(Buffer.concat([h.block as Buffer, Buffer.alloc(512)])), target)).rejects.toThrow(
      /its entry "huge" alone claims/,
    );
    expect(listTree(target)).toEqual([]);
  });

  test('more entries than the cap', async () => {
    const specs = Array.from({ length: 20 }, (_, i) => ({ path: `e${i}`, type: 'Directory' as const }));
    await expect(unpackLayer(writeArchive(tarOf(specs)), freshCase().target, { limits: { maxEntries: 10 } })).rejects.toThrow(
      /has more than 10 entries, the most tslab unpacks from one tar/,
    );
  });

  test('a path over PATH_MAX or a name over NAME_MAX is a LayerFormatError, not a raw ENAMETOOLONG', async () => {
    const long = `${'d/'.repeat(2100)}f`;
    await expect(unpackLayer(writeArchive(rawTar([{ path: long, data: 'x' }])), freshCase().target)).rejects.toThrow(/is 4201 bytes long; a path has at most 4095/);
    await expect(unpackLayer(writeArchive(rawTar([{ path: `a/${'n'.repeat(300)}`, data: 'x' }])), freshCase().target)).rejects.toThrow(
      /has a name of 300 bytes; a name has at most 255/,
    );
  });

  test('a gzip stream holding another gzip stream is refused (the parser would decompress it past the count)', async () => {
    const inner = zlib.gzipSync(tarOf([{ path: 'f', data: 'x' }]));
    await expect(unpackLayer(writeArchive(zlib.gzipSync(inner)), freshCase().target)).rejects.toThrow(/is compressed twice/);
  });
});
