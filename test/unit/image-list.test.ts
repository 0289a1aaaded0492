// `tslab images` with images an older tslab stored that today's checks refuse: every image is listed,
// the unreadable ones marked with a short reason (and named on stderr), and the status is docker's 0.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { imageCommand } from '../../src/cli/image-commands.js';
import { sha256Digest } from '../../src/image/digest.js';
import { hostPlatform } from '../../src/image/image.js';
import { listImages, shortReason } from '../../src/image/list.js';
import { MEDIA_TYPE } from '../../src/image/media-types.js';
import { ImageStore } from '../../src/image/store.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-image-list-'));
const dataDirBefore = process.env.TSLAB_DATA_DIR;
let store: ImageStore;

/** Stores a one-layer image whose config has `config` (the layer blob is arbitrary bytes: listing never unpacks). */
function storeImage(ref: string, config: object, opts: { dropConfigBlob?: boolean } = {}): string {
  const layer = store.writeBlob(Buffer.from(`layer of ${ref}`));
  const p = hostPlatform();
  const configBytes = Buffer.from(JSON.stringify({ architecture: p.architecture, os: p.os, config, rootfs: { type: 'layers', diff_ids: [sha256Digest(`tar of ${ref}`)] } }));
  const configDigest = store.writeBlob(configBytes);
  const manifest = store.writeBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.ociManifest,
        config: { mediaType: MEDIA_TYPE.ociConfig, digest: configDigest, size: configBytes.length },
        layers: [{ mediaType: MEDIA_TYPE.ociLayerGzip, digest: layer, size: 1234 }],
      }),
    ),
  );
  if (opts.dropConfigBlob) fs.rmSync(store.blobPath(configDigest));
  store.tag(ref, manifest);
  return manifest;
}

beforeAll(() => {
  process.env.TSLAB_DATA_DIR = path.join(work, 'data');
  store = new ImageStore();
  storeImage('good:1', { Cmd: ['sh'] });
  storeImage('badcmd:latest', { Cmd: 5 });
  storeImage('noconfig:latest', { Cmd: ['sh'] }, { dropConfigBlob: true });
  const damaged = storeImage('damaged:latest', { Cmd: ['sh'] });
  fs.appendFileSync(store.blobPath(damaged), ' ');
});

afterAll(() => {
  if (dataDirBefore === undefined) delete process.env.TSLAB_DATA_DIR;
  else process.env.TSLAB_DATA_DIR = dataDirBefore;
  fs.rmSync(work, { recursive: true, force: true });
});

describe('tslab images with unreadable images', () => {
  test('listImages loads each image on its own and gives the unreadable ones a reason', () => {
    const byRef = Object.fromEntries(listImages(store).map((i) => [i.ref, i]));
    expect(Object.keys(byRef).sort()).toEqual(['badcmd:latest', 'damaged:latest', 'good:1', 'noconfig:latest']);
    expect(byRef['good:1']).toMatchObject({ size: 1234, id: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(byRef['good:1']).not.toHaveProperty('error');
    expect(byRef['badcmd:latest']).toMatchObject({ error: expect.stringMatching(/^the image config sha256:[0-9a-f]{12}: .*Cmd/) });
    expect(byRef['noconfig:latest']).toMatchObject({ error: expect.stringContaining('is not in the image store') });
    expect(byRef['damaged:latest']).toMatchObject({ error: expect.stringMatching(/sha256/) });
    for (const i of Object.values(byRef)) {
      if ('error' in i) {
        expect(i).not.toHaveProperty('id');
        expect(i.error.length).toBeLessThanOrEqual(200);
        expect(i.error).not.toMatch(/[0-9a-f]{64}/); // digests shortened, as image ids are shown
      }
    }
  });

  test('the table lists every image, marks the unreadable ones, names them on stderr, and exits 0', async () => {
    let out = '';
    const warnings: string[] = [];
    const status = await imageCommand('images', [], false, (text) => (out += text), (text) => warnings.push(text));
    expect(status).toBe(0);
    const rows = out.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
    expect(rows[0]).toEqual(['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE']);
    const byName = Object.fromEntries(rows.slice(1).map((r) => [`${r[0]}:${r[1]}`, r.slice(2)]));
    // busybox:latest is built in by the command itself.
    expect(Object.keys(byName).sort()).toEqual(['badcmd:latest', 'busybox:latest', 'damaged:latest', 'good:1', 'noconfig:latest']);
    expect(byName['good:1']).toEqual([expect.stringMatching(/^[0-9a-f]{12}$/), '1.2kB']);
    for (const bad of ['badcmd:latest', 'damaged:latest', 'noconfig:latest']) expect(byName[bad]).toEqual(['<unreadable>', '-']);
    expect(warnings).toHaveLength(3);
    expect(warnings.find((w) => w.startsWith('tslab: badcmd:latest cannot be read: the image config'))).toMatch(/Cmd.*\(tslab rmi badcmd:latest removes it\)\n$/);
  });

  test('--json gives the reason in place of id and size', async () => {
    let out = '';
    expect(await imageCommand('images', [], true, (text) => (out += text), () => {})).toBe(0);
    const images = JSON.parse(out) as Array<Record<string, unknown>>;
    expect(images.find((i) => i.ref === 'badcmd:latest')).toEqual({ ref: 'badcmd:latest', digest: expect.any(String), error: expect.stringContaining('Cmd') });
    expect(images.find((i) => i.ref === 'good:1')).toMatchObject({ size: 1234 });
  });

  test('shortReason drops the ref prefix, shortens digests and caps the length', () => {
    const hex = 'a'.repeat(64);
    expect(shortReason('x:1', new Error(`x:1: blob sha256:${hex} is gone`))).toBe('blob sha256:aaaaaaaaaaaa is gone');
    expect(shortReason('x:1', new Error('y'.repeat(500)))).toHaveLength(200);
    expect(shortReason('x:1', 'plain')).toBe('plain');
  });
});
