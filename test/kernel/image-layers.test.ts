// Image layers for overlayfs, against the real kernel: overlay-style whiteouts (0/0 character devices and
// trusted.overlay.opaque), layerDirs unpacking each layer once, and the unpacked layers mounted as
// overlayfs lowerdirs. Every mount is made in a private mount namespace of a child (`unshare -m`), so it
// disappears with the child and this process never sees it; the test checks that too.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildBuiltinImage, ensureBuiltinImage } from '../../src/image/builtin.js';
import { isStaticElf } from '../../src/fs/busybox-rootfs.js';
import { DigestMismatchError, sha256Digest } from '../../src/image/digest.js';
import { hostPlatform, layerDirs, loadImage } from '../../src/image/image.js';
import { importArchive } from '../../src/image/import.js';
import { ImageStore } from '../../src/image/store.js';
import { unpackLayer } from '../../src/image/unpack.js';
import { packTree, writeTreeFile } from '../helpers/layer-trees.js';
import { SyscallError } from '../../src/linux/error.js';
import { lgetxattr, llistxattr, lremovexattr, lsetxattr } from '../../src/linux/xattr.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-image-layers-'));

function mountedUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(dir));
}

afterAll(() => {
  expect(mountedUnder(work)).toEqual([]);
  fs.rmSync(work, { recursive: true, force: true });
});

/** Runs `script` with sh in a new, private mount namespace; its mounts vanish when it exits. */
function inPrivateMountNamespace(script: string, ...args: string[]): string {
  return execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-euc', script, 'sh', ...args], { encoding: 'utf8' });
}

/** Mounts an overlay of `lowers` (lowest first) at <dir>/merged with a fresh upper/work, then runs `then` in it. */
function withOverlay(dir: string, lowers: string[], then: string): string {
  for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  // overlayfs lists the top layer first (src/runtime/steps/overlay.ts mounts the same for tslab run).
  const data = `lowerdir=${[...lowers].reverse().join(':')},upperdir=${path.join(dir, 'upper')},workdir=${path.join(dir, 'work')}`;
  return inPrivateMountNamespace(`mount -t overlay overlay -o "$1" "$2"; cd "$2"; ${then}`, data, path.join(dir, 'merged'));
}


describe('extended attributes (src/linux/xattr.ts)', () => {
  test('set, get, list and remove, on the file itself', () => {
    const file = path.join(work, 'xattr-file');
    fs.writeFileSync(file, '');
    expect(lgetxattr(file, 'user.tslab')).toBeUndefined();
    lsetxattr(file, 'user.tslab', 'value');
    lsetxattr(file, 'trusted.tslab', Buffer.from([0, 1, 2]));
    expect(lgetxattr(file, 'user.tslab')?.toString()).toBe('value');
    expect(lgetxattr(file, 'trusted.tslab')).toEqual(Buffer.from([0, 1, 2]));
    expect(llistxattr(file)).toEqual(expect.arrayContaining(['user.tslab', 'trusted.tslab']));
    lremovexattr(file, 'user.tslab');
    expect(lgetxattr(file, 'user.tslab')).toBeUndefined();
  });

  test('failures are SyscallErrors with a sentence', () => {
    const link = path.join(work, 'xattr-link');
    fs.symlinkSync('xattr-file', link);
    let caught: unknown;
    try {
      lsetxattr(link, 'user.tslab', 'x'); // user.* is not allowed on a symlink
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SyscallError);
    expect((caught as SyscallError).message).toMatch(/^lsetxattr .*xattr-link: EPERM — user\.\* extended attributes cannot be set on symlinks/);
    expect(() => lremovexattr(path.join(work, 'xattr-file'), 'user.absent')).toThrow(/ENODATA/);
  });
});

// Two layers: the lower one with files the upper one whites out or hides behind an opaque directory.
const lowerTar = packTree(work, (d) => {
  writeTreeFile(d, 'etc/hosts', 'lower\n');
  writeTreeFile(d, 'etc/gone', 'whited out by the upper layer\n');
  writeTreeFile(d, 'opq/old', 'hidden by the opaque directory\n');
  writeTreeFile(d, 'opq/sub/deep', 'hidden too\n');
  writeTreeFile(d, 'bin/tool', 'tool\n');
  fs.linkSync(path.join(d, 'bin/tool'), path.join(d, 'bin/tool-hardlink'));
  fs.symlinkSync('tool', path.join(d, 'bin/tool-symlink'));
});
const upperTar = packTree(work, (d) => {
  writeTreeFile(d, 'etc/.wh.gone');
  writeTreeFile(d, 'opq/.wh..wh..opq');
  writeTreeFile(d, 'opq/new', 'upper\n');
});

function ociLayoutWith(name: string, layerTars: Buffer[]): string {
  const dir = path.join(work, name);
  const put = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256Digest(data);
    fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layers = layerTars.map((t) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(zlib.gzipSync(t)) }));
  const p = hostPlatform();
  const config = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    ...put(Buffer.from(JSON.stringify({ architecture: p.architecture, os: p.os, config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layerTars.map((t) => sha256Digest(t)) } }))),
  };
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
  return dir;
}

describe('overlay whiteouts', () => {
  test('.wh.<name> becomes a 0/0 character device, an opaque marker trusted.overlay.opaque=y', async () => {
    const file = path.join(work, 'upper.tar');
    fs.writeFileSync(file, upperTar);
    const target = path.join(work, 'upper-unpacked');
    await unpackLayer(file, target, { overlayWhiteouts: true });
    const wh = fs.lstatSync(path.join(target, 'etc/gone'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(fs.existsSync(path.join(target, 'etc/.wh.gone'))).toBe(false);
    expect(lgetxattr(path.join(target, 'opq'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(fs.readdirSync(path.join(target, 'opq'))).toEqual(['new']);
  });

  test('device nodes are made as root', async () => {
    const h = new tar.Header({ path: 'dev/null', type: 'CharacterDevice', mode: 0o666, uid: 0, gid: 0, size: 0, mtime: new Date(), devmaj: 1, devmin: 3 });
    h.encode();
    const file = path.join(work, 'dev.tar');
    fs.writeFileSync(file, Buffer.concat([h.block as Buffer, Buffer.alloc(1024)]));
    const target = path.join(work, 'dev-unpacked');
    await unpackLayer(file, target);
    const st = fs.lstatSync(path.join(target, 'dev/null'));
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(fs.statSync('/dev/null').rdev);
    expect(st.mode & 0o777).toBe(0o666);
  });
});

describe('layerDirs', () => {
  let store: ImageStore;
  let dirs: string[];

  beforeAll(async () => {
    store = new ImageStore(path.join(work, 'store'));
    await importArchive(store, ociLayoutWith('two-layers', [lowerTar, upperTar]), 'layered');
    dirs = await layerDirs(store, loadImage(store, 'layered'));
  });

  test('unpacks each layer into <root>/layers/<hex> (its diff_id recorded beside it), lowest first, leaving no staging dir', () => {
    const image = loadImage(store, 'layered');
    expect(dirs).toEqual(image.layers.map((l) => store.layerPath(l.digest)));
    expect(fs.readdirSync(path.join(store.root, 'layers')).sort()).toEqual(
      image.layers.flatMap((l) => [l.digest.slice(7), `${l.digest.slice(7)}.diff_id`]).sort(),
    );
    for (const [i, l] of image.layers.entries()) expect(fs.readFileSync(store.layerDiffIdPath(l.digest), 'utf8').trim()).toBe(image.config.rootfs.diff_ids[i]);
    expect(fs.readFileSync(path.join(dirs[0], 'etc/gone'), 'utf8')).toMatch(/whited out/);
  });

  test('a second call (and two at once) unpacks nothing again: same inodes, same change times', async () => {
    const files = ['etc/hosts', 'bin/tool', 'bin/tool-symlink'].map((f) => path.join(dirs[0], f)).concat([path.join(dirs[1], 'opq/new')]);
    const before = files.map((f) => fs.lstatSync(f, { bigint: true })).map((s) => [s.ino, s.ctimeNs, s.mtimeNs]);
    const dirInodes = dirs.map((d) => fs.statSync(d).ino);
    const image = loadImage(store, 'layered');
    const [again, concurrent] = await Promise.all([layerDirs(store, image), layerDirs(store, image)]);
    expect(again).toEqual(dirs);
    expect(concurrent).toEqual(dirs);
    expect(files.map((f) => fs.lstatSync(f, { bigint: true })).map((s) => [s.ino, s.ctimeNs, s.mtimeNs])).toEqual(before);
    expect(dirs.map((d) => fs.statSync(d).ino)).toEqual(dirInodes);
  });

  test('mounted as overlayfs lowerdirs: whiteouts and the opaque directory hide the lower files', () => {
    const out = withOverlay(path.join(work, 'ovl-1'), dirs, 'find . | sort; echo ---; cat opq/new; echo written > made-in-container; ls -i bin/tool bin/tool-hardlink | cut -d" " -f1 | uniq | wc -l');
    const [tree, rest] = out.split('---\n');
    expect(tree.trim().split('\n')).toEqual([
      '.',
      './bin',
      './bin/tool',
      './bin/tool-hardlink',
      './bin/tool-symlink',
      './etc',
      './etc/hosts',
      './opq',
      './opq/new',
    ]);
    expect(rest.split('\n').slice(0, 2)).toEqual(['upper', '1']); // the hardlink is still one inode
    // the write went to the container's upper dir, never into a layer
    expect(fs.readFileSync(path.join(work, 'ovl-1/upper/made-in-container'), 'utf8')).toBe('written\n');
    for (const d of dirs) expect(fs.existsSync(path.join(d, 'made-in-container'))).toBe(false);
    expect(mountedUnder(work)).toEqual([]);
  });

  test('a layer blob changed on disk is refused when it is unpacked again, and leaves no layer dir behind', async () => {
    const other = new ImageStore(path.join(work, 'store-corrupt'));
    await importArchive(other, ociLayoutWith('corrupt-later', [lowerTar]), 'c');
    fs.rmSync(path.join(other.root, 'layers'), { recursive: true }); // import unpacked it: as if collected since
    const image = loadImage(other, 'c');
    const blob = other.blobPath(image.layers[0].digest);
    const bytes = fs.readFileSync(blob);
    bytes[20] ^= 0x01;
    fs.writeFileSync(blob, bytes);
    await expect(layerDirs(other, image)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(fs.readdirSync(path.join(other.root, 'layers'))).toEqual([]);
  });

  test('a layer whose content does not match the diff_id is refused, unpacked now or reused from before', async () => {
    const other = new ImageStore(path.join(work, 'store-diffid'));
    await importArchive(other, ociLayoutWith('diffid', [lowerTar]), 'd');
    const image = loadImage(other, 'd');
    const unpacked = fs.readdirSync(path.join(other.root, 'layers')).sort();
    image.config.rootfs.diff_ids[0] = sha256Digest('something else');
    // Reused: the diff_id recorded when it was unpacked is compared.
    await expect(layerDirs(other, image)).rejects.toThrow(/diff_id.*digest mismatch/);
    expect(fs.readdirSync(path.join(other.root, 'layers')).sort()).toEqual(unpacked);
    // Unpacked now: the stream is hashed as it is written, and what was written is removed.
    fs.rmSync(path.join(other.root, 'layers'), { recursive: true });
    await expect(layerDirs(other, image)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(fs.readdirSync(path.join(other.root, 'layers'))).toEqual([]);
  });

  test('a layer unpacked without a diff_id record (an older tslab) is checked once by hashing its blob', async () => {
    const other = new ImageStore(path.join(work, 'store-norecord'));
    await importArchive(other, ociLayoutWith('norecord', [lowerTar]), 'n');
    const image = loadImage(other, 'n');
    const record = other.layerDiffIdPath(image.layers[0].digest);
    fs.rmSync(record);
    const lying = loadImage(other, 'n');
    lying.config.rootfs.diff_ids[0] = sha256Digest('something else');
    await expect(layerDirs(other, lying)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(fs.readFileSync(record, 'utf8').trim()).toBe(image.config.rootfs.diff_ids[0]);
    expect(await layerDirs(other, image)).toEqual([other.layerPath(image.layers[0].digest)]);
  });

  test("garbage collection removes an untagged image's unpacked layers", async () => {
    const other = new ImageStore(path.join(work, 'store-gc'));
    await importArchive(other, ociLayoutWith('gc', [lowerTar, upperTar]), 'g');
    const layers = await layerDirs(other, loadImage(other, 'g'));
    expect(other.garbageCollect()).toEqual([]);
    other.untag('g');
    expect(other.garbageCollect()).toHaveLength(4); // manifest, config, two layers
    for (const d of layers) expect(fs.existsSync(d)).toBe(false);
    expect(other.blobs()).toEqual([]);
  });
});

describe('the built-in busybox image', () => {
  let store: ImageStore;

  beforeAll(() => {
    store = new ImageStore(path.join(work, 'store-builtin'));
  });

  test('is made on a fresh store, listed, and found again without rebuilding', async () => {
    expect(store.list()).toEqual([]);
    const digest = await ensureBuiltinImage(store);
    expect(store.list()).toEqual([{ ref: 'busybox:latest', digest }]);
    const mtime = fs.statSync(store.blobPath(digest)).mtimeMs;
    expect(await ensureBuiltinImage(store)).toBe(digest);
    expect(fs.statSync(store.blobPath(digest)).mtimeMs).toBe(mtime);
    // built again from scratch, it is the same image, byte for byte
    expect(await buildBuiltinImage(new ImageStore(path.join(work, 'store-builtin-2')))).toBe(digest);
  });

  test('is a proper OCI image: gzip layer, config with Cmd sh, PATH, os and architecture', () => {
    const image = loadImage(store, 'busybox');
    expect(image.ref).toBe('busybox:latest');
    expect(image.layers).toHaveLength(1);
    expect(image.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(fs.readFileSync(store.blobPath(image.layers[0].digest)).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(image.config.os).toBe('linux');
    expect(image.config.architecture).toBe(hostPlatform().architecture);
    expect(image.config.config?.Cmd).toEqual(['sh']);
    expect(image.config.config?.Env?.some((e) => e.startsWith('PATH=') && e.includes('/bin'))).toBe(true);
    expect((image.manifest as { mediaType?: string }).mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  test('its layer unpacks to a working busybox root filesystem, run through overlayfs and chroot', async () => {
    const [layer] = await layerDirs(store, loadImage(store, 'busybox'));
    expect(isStaticElf(path.join(layer, 'bin/busybox'))).toBe(true);
    const busybox = fs.lstatSync(path.join(layer, 'bin/busybox'));
    expect([busybox.uid, busybox.gid, busybox.mode & 0o777]).toEqual([0, 0, 0o755]);
    expect(fs.readlinkSync(path.join(layer, 'bin/sh'))).toBe('busybox');
    expect(fs.statSync(path.join(layer, 'tmp')).mode & 0o7777).toBe(0o1777);
    // overlayfs with one lower layer needs an upper dir to be writable: the container's own
    const out = withOverlay(path.join(work, 'ovl-busybox'), [layer], 'chroot . /bin/sh -c "echo hello from \\$(busybox | head -1 | cut -d\\" \\" -f1); cat /etc/passwd | head -1; touch /tmp/x && ls /tmp"');
    expect(out).toBe('hello from BusyBox\nroot:x:0:0:root:/root:/bin/sh\nx\n');
    expect(fs.existsSync(path.join(layer, 'tmp/x'))).toBe(false);
    expect(mountedUnder(work)).toEqual([]);
  });
});
