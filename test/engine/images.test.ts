// Images through the CLI: `import` of an OCI layout dir, an OCI layout tar and a `docker save` tar (all
// built here around a copy of the host's static busybox), each then run, with the image config honoured
// (Entrypoint, Cmd, Env, WorkingDir, User, StopSignal) and overridden by the flags; `rmi` refusing an
// image a container uses; `pull` from a real registry on 127.0.0.1 (docker-registry) and run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { hostPlatform } from '../../src/image/image.js';
import { imageConfig, pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxLayerTar, describeResult, engineScope, gzip, sleep } from './engine-env.js';

const e = engineScope('images');

const CONFIG = {
  Entrypoint: ['/bin/sh', '-c'],
  Cmd: ['echo "$GREETING in $(pwd) as $(id -u):$(id -g)"'],
  Env: ['PATH=/bin', 'GREETING=hello'],
  WorkingDir: '/work',
  User: '1000:1000',
  StopSignal: 'SIGUSR1',
};

let layerTar: Buffer;

beforeAll(() => {
  layerTar = busyboxLayerTar(e.scratch, ['work']);
});

function configJson(config: object, diffIds: string[]): Buffer {
  const p = hostPlatform();
  return Buffer.from(JSON.stringify({ architecture: p.architecture, os: p.os, config, rootfs: { type: 'layers', diff_ids: diffIds } }));
}

/** An OCI image layout dir: one gzip layer, the config, a manifest, index.json with `annotations`. */
function ociLayout(name: string, config: object, annotations: Record<string, string>): string {
  const dir = path.join(e.scratch, name);
  const put = (data: Buffer) => {
    const digest = sha256Digest(data);
    fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gzip(layerTar)) };
  const cfg = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(configJson(config, [sha256Digest(layerTar)])) };
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [layer] })));
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations }] }),
  );
  return dir;
}

function tarOf(dir: string): string {
  const file = `${dir}.tar`;
  tar.c({ file, cwd: dir, sync: true }, fs.readdirSync(dir).sort());
  return file;
}

/** A `docker save` archive (legacy format): <config hex>.json, <id>/layer.tar, manifest.json, repositories. */
function dockerSave(name: string, repoTag: string): string {
  const dir = path.join(e.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  const config = configJson({ Cmd: ['sh'], Env: ['PATH=/bin'] }, [sha256Digest(layerTar)]);
  const configName = `${sha256Digest(config).slice(7)}.json`;
  fs.writeFileSync(path.join(dir, configName), config);
  const id = sha256Digest(`layer of ${name}`).slice(7);
  fs.mkdirSync(path.join(dir, id));
  fs.writeFileSync(path.join(dir, id, 'layer.tar'), layerTar);
  fs.writeFileSync(path.join(dir, id, 'VERSION'), '1.0');
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: [`${id}/layer.tar`] }]));
  const [repo, tag] = repoTag.split(':');
  fs.writeFileSync(path.join(dir, 'repositories'), JSON.stringify({ [repo]: { [tag]: id } }));
  return tarOf(dir);
}

async function imageRefs(): Promise<string[]> {
  return (JSON.parse(await e.ok(['--json', 'images'])) as Array<{ ref: string }>).map((i) => i.ref).sort();
}

describe('import', () => {
  test('an OCI layout dir: loaded under the given name, run with its config', async () => {
    const dir = ociLayout('layout-dir', CONFIG, { 'org.opencontainers.image.ref.name': 'v1' });
    expect(await e.ok(['import', dir, 'cfgimg:1'])).toBe('Loaded image: cfgimg:1\n');
    expect(await e.ok(['images'])).toMatch(/^cfgimg\s+1\s+[0-9a-f]{12}\s/m);
    expect(await imageRefs()).toEqual(['busybox:latest', 'cfgimg:1']);

    // Entrypoint + Cmd, Env, WorkingDir and User of the image
    expect(await e.ok(['run', '--rm', 'cfgimg:1'])).toBe('hello in /work as 1000:1000\n');
    // the flags win over the config; arguments replace Cmd (not the Entrypoint)
    expect(await e.ok(['run', '--rm', '-e', 'GREETING=hi', '-w', '/tmp', '-u', '0:0', 'cfgimg:1'])).toBe('hi in /tmp as 0:0\n');
    expect(await e.ok(['run', '--rm', 'cfgimg:1', 'echo replaced'])).toBe('replaced\n');
    expect(await e.ok(['run', '--rm', '--entrypoint', '/bin/echo', 'cfgimg:1', 'no', 'entrypoint'])).toBe('no entrypoint\n');

    expect(await e.ok(['rmi', 'cfgimg:1'])).toMatch(/^Untagged: cfgimg:1\n/);
    expect(await imageRefs()).toEqual(['busybox:latest']);
  });

  test("the image's StopSignal is what stop sends", async () => {
    const dir = ociLayout('layout-stop', CONFIG, {});
    expect(await e.ok(['import', dir, 'stopsig'])).toBe('Loaded image: stopsig:latest\n');
    // PID 1 ignores signals it has no handler for: only the image's SIGUSR1 ends this one before the timeout.
    await e.ok(['run', '-d', '--name', 'usr1', 'stopsig', 'trap "exit 9" USR1; trap "" TERM; echo ready; while true; do sleep 0.1; done']);
    const info = await e.inspect('usr1');
    expect(info.stopSignal).toBe('SIGUSR1');
    for (let i = 0; i < 100 && !(await e.ok(['logs', 'usr1'])).includes('ready'); i++) await sleep(50);
    const stop = await e.tslab(['stop', '-t', '10', 'usr1']);
    expect(stop.code, describeResult(stop)).toBe(0);
    expect(stop.ms).toBeLessThan(5000);
    expect((await e.inspect('usr1')).exitCode).toBe(9);
    await e.ok(['rm', 'usr1']);
    await e.ok(['rmi', 'stopsig']);
  });

  test('an OCI layout tar: named by its io.containerd.image.name annotation, runs', async () => {
    const file = tarOf(ociLayout('layout-tar', { Cmd: ['echo', 'from the tar'], Env: ['PATH=/bin'] }, { 'io.containerd.image.name': 'example.org/team/tarred:2' }));
    expect(await e.ok(['import', file])).toBe('Loaded image: example.org/team/tarred:2\n');
    expect(await e.ok(['run', '--rm', 'example.org/team/tarred:2'])).toBe('from the tar\n');
    await e.ok(['rmi', 'example.org/team/tarred:2']);
    expect(await imageRefs()).toEqual(['busybox:latest']);
  });

  test('a docker save tar: its RepoTags, runs', async () => {
    const file = dockerSave('saved', 'saved/app:1');
    expect(await e.ok(['import', file])).toBe('Loaded image: saved/app:1\n');
    expect(await e.ok(['run', '--rm', 'saved/app:1', 'echo', 'from docker save'])).toBe('from docker save\n');
    await e.ok(['rmi', 'saved/app:1']);
  });

  test('something that is not an image archive is refused with a message', async () => {
    const file = path.join(e.scratch, 'not-an-image.txt');
    fs.writeFileSync(file, 'hello\n');
    const r = await e.tslab(['import', file]);
    expect(r.stderr).toMatch(/not a readable tar archive|neither an OCI image layout/);
    expect(r.code).not.toBe(0);
    expect(await imageRefs()).toEqual(['busybox:latest']);
  });
});

describe('rmi', () => {
  test('refuses an image a container uses; removes it once the container is gone', async () => {
    const file = dockerSave('for-rmi', 'rmi/me:1');
    await e.ok(['import', file]);
    expect((await e.tslab(['run', '--name', 'user', 'rmi/me:1', 'true'])).code).toBe(0);

    const refused = await e.tslab(['rmi', 'rmi/me:1']);
    expect(refused.stderr).toMatch(/used by container user/);
    expect(refused.code).not.toBe(0);
    expect(await imageRefs()).toContain('rmi/me:1');

    await e.ok(['rm', 'user']);
    const removed = await e.ok(['rmi', 'rmi/me:1']);
    expect(removed).toMatch(/^Untagged: rmi\/me:1\n/);
    expect(removed).toMatch(/^Deleted: sha256:[0-9a-f]{64}$/m);
    expect(await imageRefs()).toEqual(['busybox:latest']);
    const gone = await e.tslab(['run', '--rm', 'rmi/me:1', 'true']);
    expect(gone.stderr).toMatch(/no image rmi\/me:1/);
    const unknown = await e.tslab(['rmi', 'rmi/me:1']);
    expect(unknown.stderr).toMatch(/no such image: rmi\/me:1/);
    expect(unknown.code).not.toBe(0);
  });
});

describe('pull', () => {
  let registry: TestRegistry | undefined;
  const registryDir = () => path.join(e.scratch, 'registry');

  afterAll(async () => {
    await registry?.stop();
    fs.rmSync(registryDir(), { recursive: true, force: true });
  });

  test('from a registry on 127.0.0.1, then run', async () => {
    registry = await startRegistry(registryDir());
    const layer = gzip(layerTar);
    await pushImage(registry.url, 'tslab/pulled', 'v1', { layers: [layer], config: imageConfig([layer], hostPlatform()) });
    const ref = `${registry.host}/tslab/pulled:v1`;

    const pull = await e.tslab(['pull', ref]);
    expect(pull.code, describeResult(pull)).toBe(0);
    expect(pull.stdout).toBe(`${ref}\n`);
    expect(await imageRefs()).toEqual(['busybox:latest', ref].sort());
    expect(await e.ok(['run', '--rm', ref, 'echo', 'pulled'])).toBe('pulled\n');

    await e.ok(['rmi', ref]);
    expect(await imageRefs()).toEqual(['busybox:latest']);
  });
});
