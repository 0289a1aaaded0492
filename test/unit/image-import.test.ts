// `tslab import`: an OCI layout directory, an OCI layout tar and a `docker save` tar, all built here with
// the tar package from layers that hold a whiteout, an opaque directory, a hardlink and a symlink. The
// imported image loads with its config, and its layers, unpacked one over the other, give the expected tree.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { DigestMismatchError, sha256Digest } from '../../src/image/digest.js';
import { hostPlatform, imageCommand, loadImage, type ImageConfig } from '../../src/image/image.js';
import { ImportError, importArchive } from '../../src/image/import.js';
import { ImageStore } from '../../src/image/store.js';
import { unpackLayer } from '../../src/image/unpack.js';
import { packTree, writeTreeFile } from '../helpers/layer-trees.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-image-import-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let store: ImageStore;
let n = 0;
beforeEach(() => {
  store = new ImageStore(path.join(work, `store-${n++}`));
});

const CONFIG: ImageConfig = {
  Entrypoint: ['/bin/tool'],
  Cmd: ['--help'],
  Env: ['PATH=/bin', 'A=1'],
  WorkingDir: '/opq',
  User: '1000:1000',
  ExposedPorts: { '80/tcp': {} },
  StopSignal: 'SIGINT',
  Labels: { made: 'by the test' },
};


// Layer 1: the base. Layer 2: whiteouts over it and a new file in an opaque directory.
const base = packTree(work, (d) => {
  writeTreeFile(d, 'etc/hosts', '127.0.0.1 localhost\n');
  writeTreeFile(d, 'etc/gone', 'deleted by layer 2\n');
  writeTreeFile(d, 'opq/old', 'hidden by the opaque marker\n');
  writeTreeFile(d, 'bin/tool', '#!/bin/sh\necho tool\n');
  fs.chmodSync(path.join(d, 'bin/tool'), 0o755);
  fs.linkSync(path.join(d, 'bin/tool'), path.join(d, 'bin/tool-hardlink'));
  fs.symlinkSync('tool', path.join(d, 'bin/tool-symlink'));
});
const upper = packTree(work, (d) => {
  writeTreeFile(d, 'etc/.wh.gone');
  writeTreeFile(d, 'opq/.wh..wh..opq');
  writeTreeFile(d, 'opq/new', 'from layer 2\n');
});

function configJson(diffIds: string[]): Buffer {
  const p = hostPlatform();
  return Buffer.from(JSON.stringify({ architecture: p.architecture, os: p.os, config: CONFIG, rootfs: { type: 'layers', diff_ids: diffIds } }));
}

function putBlob(layout: string, data: Buffer): { digest: string; size: number } {
  const digest = sha256Digest(data);
  fs.mkdirSync(path.join(layout, 'blobs/sha256'), { recursive: true });
  fs.writeFileSync(path.join(layout, 'blobs/sha256', digest.slice(7)), data);
  return { digest, size: data.length };
}

/** An OCI image layout: gzip layers, a config, a manifest, index.json naming it by a bare tag. */
function ociLayout(name: string, annotations: Record<string, string> = { 'org.opencontainers.image.ref.name': 'v1' }): { dir: string; manifest: string } {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers = [base, upper].map((t) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...putBlob(dir, zlib.gzipSync(t)) }));
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', ...putBlob(dir, configJson([base, upper].map((t) => sha256Digest(t)))) };
  const manifest = putBlob(dir, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })));
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations }] }),
  );
  return { dir, manifest: manifest.digest };
}

/**
 * A `docker save` archive in the legacy format: <config hex>.json, <id>/layer.tar (plain tars), manifest.json
 * and repositories; a second image shares the base layer through a symlinked layer.tar, as docker writes it.
 */
function dockerSaveTar(name: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  const diffIds = [base, upper].map((t) => sha256Digest(t));
  const config = configJson(diffIds);
  const configName = `${sha256Digest(config).slice(7)}.json`;
  fs.writeFileSync(path.join(dir, configName), config);
  const ids = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)];
  for (const [i, data] of [base, upper].entries()) {
    fs.mkdirSync(path.join(dir, ids[i]));
    fs.writeFileSync(path.join(dir, ids[i], 'layer.tar'), data);
    fs.writeFileSync(path.join(dir, ids[i], 'VERSION'), '1.0');
  }
  fs.mkdirSync(path.join(dir, ids[2]));
  fs.symlinkSync(`../${ids[0]}/layer.tar`, path.join(dir, ids[2], 'layer.tar'));
  const baseOnly = Buffer.from(JSON.stringify({ architecture: hostPlatform().architecture, os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [diffIds[0]] } }));
  const baseOnlyName = `${sha256Digest(baseOnly).slice(7)}.json`;
  fs.writeFileSync(path.join(dir, baseOnlyName), baseOnly);
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify([
      { Config: configName, RepoTags: ['example.com/team/app:1.0'], Layers: [`${ids[0]}/layer.tar`, `${ids[1]}/layer.tar`] },
      { Config: baseOnlyName, RepoTags: ['docker.io/library/base:latest'], Layers: [`${ids[2]}/layer.tar`] },
    ]),
  );
  fs.writeFileSync(path.join(dir, 'repositories'), JSON.stringify({ 'example.com/team/app': { '1.0': ids[1] } }));
  const file = `${dir}.tar`;
  tar.c({ file, cwd: dir, sync: true }, fs.readdirSync(dir).sort());
  return file;
}

function tarOfDir(dir: string, gzip = false): string {
  const file = `${dir}${gzip ? '.tar.gz' : '.tar'}`;
  tar.c({ file, cwd: dir, sync: true, gzip }, fs.readdirSync(dir).sort());
  return file;
}

/** Every layer of the image unpacked one over the other (whiteouts applied), verified against digest and diff_id. */
async function flatten(ref: string): Promise<string> {
  const image = loadImage(store, ref);
  const root = path.join(work, `flat-${n++}`);
  for (const [i, layer] of image.layers.entries()) {
    await unpackLayer(store.blobPath(layer.digest), root, { digest: layer.digest, diffId: image.config.rootfs.diff_ids[i] });
  }
  return root;
}

async function expectTheTree(ref: string): Promise<void> {
  const root = await flatten(ref);
  expect((fs.readdirSync(root, { recursive: true }) as string[]).sort()).toEqual([
    'bin',
    'bin/tool',
    'bin/tool-hardlink',
    'bin/tool-symlink',
    'etc',
    'etc/hosts',
    'opq',
    'opq/new',
  ]);
  expect(fs.statSync(path.join(root, 'bin/tool-hardlink')).ino).toBe(fs.statSync(path.join(root, 'bin/tool')).ino);
  expect(fs.readlinkSync(path.join(root, 'bin/tool-symlink'))).toBe('tool');
  expect(fs.statSync(path.join(root, 'bin/tool')).mode & 0o777).toBe(0o755);
}

function entriesOf(data: Buffer): string[] {
  const out: string[] = [];
  const parser = new tar.Parser({ onReadEntry: (e) => {
    out.push(`${e.type} ${e.path}${e.linkpath ? ` -> ${e.linkpath}` : ''}`);
    e.resume();
  } });
  parser.end(data);
  return out;
}

test('the layers hold a hardlink, a symlink, a whiteout and an opaque marker', () => {
  expect(entriesOf(base)).toEqual(
    expect.arrayContaining(['Link bin/tool-hardlink -> bin/tool', 'SymbolicLink bin/tool-symlink -> tool', 'File etc/gone']),
  );
  expect(entriesOf(upper)).toEqual(expect.arrayContaining(['File etc/.wh.gone', 'File opq/.wh..wh..opq', 'File opq/new']));
});

describe('an OCI image layout', () => {
  test('imported from a directory: tagged by repository (the directory name) and ref.name, config honoured', async () => {
    const { dir, manifest } = ociLayout('myimage');
    expect(await importArchive(store, dir)).toEqual(['myimage:v1']);
    const image = loadImage(store, 'myimage:v1');
    expect(image.manifestDigest).toBe(manifest);
    expect(image.ref).toBe('myimage:v1');
    expect(image.layers.map((l) => l.mediaType)).toEqual(Array(2).fill('application/vnd.oci.image.layer.v1.tar+gzip'));
    expect(image.config.config).toEqual(CONFIG);
    expect(fs.existsSync(dir)).toBe(true); // a directory is copied, never consumed
    await expectTheTree('myimage:v1');
  });

  test('imported from a tar (and a .tar.gz) of the layout, under a given name', async () => {
    const { dir, manifest } = ociLayout('layout-for-tar', { 'io.containerd.image.name': 'docker.io/library/named:2' });
    expect(await importArchive(store, tarOfDir(dir))).toEqual(['named:2']);
    expect(store.resolve('named:2')).toBe(manifest);
    expect(await importArchive(store, tarOfDir(dir, true), 'renamed')).toEqual(['renamed:latest']);
    expect(store.resolve('renamed')).toBe(manifest);
    expect(fs.readdirSync(path.join(store.root, 'tmp'))).toEqual([]); // the extraction is gone
    await expectTheTree('renamed');
  });

  test('a blob that does not match its digest fails the import and tags nothing', async () => {
    const { dir, manifest } = ociLayout('corrupt');
    const manifestDoc = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', manifest.slice(7)), 'utf8'));
    const layerFile = path.join(dir, 'blobs/sha256', manifestDoc.layers[1].digest.slice(7));
    const bytes = fs.readFileSync(layerFile);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(layerFile, bytes);
    await expect(importArchive(store, tarOfDir(dir))).rejects.toBeInstanceOf(DigestMismatchError);
    expect(store.list()).toEqual([]);
  });

  test('a layout that names no image is tagged <directory name>:latest', async () => {
    const { dir } = ociLayout('unnamed', {});
    expect(await importArchive(store, dir)).toEqual(['unnamed:latest']);
  });
});

describe('a docker save archive', () => {
  test('imported from its tar: RepoTags become refs, a symlinked shared layer.tar is followed', async () => {
    const file = dockerSaveTar('saved');
    expect((await importArchive(store, file)).sort()).toEqual(['base:latest', 'example.com/team/app:1.0']);
    const app = loadImage(store, 'example.com/team/app:1.0');
    expect(app.layers.map((l) => l.digest)).toEqual([sha256Digest(base), sha256Digest(upper)]);
    expect(app.layers.map((l) => l.mediaType)).toEqual(Array(2).fill('application/vnd.oci.image.layer.v1.tar'));
    expect(app.config.config).toEqual(CONFIG);
    expect(loadImage(store, 'base').layers.map((l) => l.digest)).toEqual([sha256Digest(base)]);
    await expectTheTree('example.com/team/app:1.0');
    // importing again gives the same manifest
    const first = store.resolve('example.com/team/app:1.0');
    await importArchive(store, file);
    expect(store.resolve('example.com/team/app:1.0')).toBe(first);
  });

  test('a layer that does not match its diff_id is refused', async () => {
    const dir = path.join(work, 'bad-diffid');
    fs.mkdirSync(dir);
    const config = configJson([sha256Digest('not the layer')]);
    fs.writeFileSync(path.join(dir, 'config.json'), config);
    fs.writeFileSync(path.join(dir, 'layer.tar'), base);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['x:1'], Layers: ['layer.tar'] }]));
    await expect(importArchive(store, tarOfDir(dir))).rejects.toBeInstanceOf(DigestMismatchError);
    expect(store.list()).toEqual([]);
  });

  test('a manifest.json naming a file outside the archive is refused', async () => {
    const dir = path.join(work, 'escape');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), configJson([sha256Digest(base)]));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['x:1'], Layers: ['../../../../etc/passwd'] }]));
    await expect(importArchive(store, tarOfDir(dir))).rejects.toThrow(ImportError);
    await expect(importArchive(store, dir)).rejects.toThrow(/not a path inside the archive/);
  });

  test('something that is neither is a clear error', async () => {
    const dir = path.join(work, 'neither');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'README'), 'hi');
    await expect(importArchive(store, dir)).rejects.toThrow(/neither an OCI image layout/);
    await expect(importArchive(store, path.join(dir, 'README'))).rejects.toThrow(ImportError);
    await expect(importArchive(store, path.join(work, 'absent.tar'))).rejects.toThrow(/no such file/);
  });
});

describe('loading images', () => {
  test('an unknown ref says where to look', () => {
    expect(() => loadImage(store, 'nothere')).toThrow('no image nothere: tslab images lists them');
  });

  test('an index resolves to the manifest for this platform', async () => {
    const { dir, manifest } = ociLayout('for-index');
    await importArchive(store, dir, 'single');
    const p = hostPlatform();
    const other = store.writeBlob(Buffer.from('{"schemaVersion":2}'));
    const index = store.writeBlob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: other, size: 19, platform: { os: 'linux', architecture: 'not-this-one' } },
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest, size: 1, platform: { os: p.os, architecture: p.architecture } },
          ],
        }),
      ),
    );
    store.tag('multi', index);
    const image = loadImage(store, 'multi');
    expect(image.manifestDigest).toBe(manifest);
    expect(image.indexDigest).toBe(index);
  });

  test('the process args follow Docker: Entrypoint + Cmd, args replace Cmd, --entrypoint drops Cmd', () => {
    expect(imageCommand(CONFIG)).toEqual(['/bin/tool', '--help']);
    expect(imageCommand(CONFIG, ['x'])).toEqual(['/bin/tool', 'x']);
    expect(imageCommand(CONFIG, [], ['/bin/sh'])).toEqual(['/bin/sh']);
    expect(imageCommand({ Cmd: ['sh'] })).toEqual(['sh']);
    expect(imageCommand({ Entrypoint: null, Cmd: null }, ['ls'])).toEqual(['ls']);
  });
});
