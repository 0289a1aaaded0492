// A real registry for the pull tests: Debian's `docker-registry` (the distribution project's registry)
// started on a free loopback port with its storage in a temp dir, and images pushed into it through the
// distribution HTTP API the way `docker push` does it (POST an upload, PUT it with ?digest=, PUT the
// manifest). Nothing here leaves the machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface TestRegistry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, as an image reference names it. */
  host: string;
  port: number;
  pid: number;
  /** SIGTERM (SIGKILL after 5 s), then wait for the exit. */
  stop(): Promise<void>;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Starts `docker-registry serve` on 127.0.0.1 with a port the kernel picks; its config and storage go
 * in `dir` (which the caller removes after stop()). Resolves once it listens.
 */
export async function startRegistry(dir: string): Promise<TestRegistry> {
  if (!fs.existsSync(REGISTRY_BINARY)) {
    throw new Error(`${REGISTRY_BINARY} is missing: the pull tests need a real registry (apt-get install docker-registry)`);
  }
  fs.mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      '  addr: 127.0.0.1:0',
      // One fixed secret keeps the registry from warning that it generated one.
      `  secret: ${sha256(dir).slice(7, 39)}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('docker-registry did not start listening within 15 s')), 15_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${log}`));
    };
    const early = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(new Error(`docker-registry exited (${code ?? signal}) before listening`));
    child.once('error', fail);
    child.once('exit', early);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log += chunk;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        child.removeListener('exit', early);
        resolve(Number(m[1]));
      }
    });
  });
  // Keep draining its log so it never blocks on a full pipe.
  child.stderr!.resume();
  const host = `127.0.0.1:${port}`;
  return {
    url: `http://${host}`,
    host,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function expectStatus(res: Response, want: number, what: string): Promise<void> {
  if (res.status !== want) throw new Error(`${what}: HTTP ${res.status} (wanted ${want}): ${await res.text()}`);
}

/** Uploads one blob (monolithic: POST an upload session, PUT its body with ?digest=). Returns its digest. */
export async function pushBlob(registryUrl: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const head = await fetch(`${registryUrl}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return digest;
  const start = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await expectStatus(start, 202, `POST /v2/${repo}/blobs/uploads/`);
  const location = start.headers.get('location');
  if (!location) throw new Error('the registry gave no Location for the upload');
  const upload = new URL(location, registryUrl);
  upload.searchParams.set('digest', digest);
  const put = await fetch(upload, {
    method: 'PUT',
    body: new Uint8Array(data),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
  });
  await expectStatus(put, 201, `PUT blob ${digest}`);
  return digest;
}

/** PUTs a manifest (or index) under a tag or digest. Returns its digest. */
export async function pushManifest(registryUrl: string, repo: string, reference: string, body: Buffer, mediaType: string): Promise<string> {
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    body: new Uint8Array(body),
    headers: { 'content-type': mediaType },
  });
  await expectStatus(res, 201, `PUT manifest ${repo}:${reference}`);
  const digest = sha256(body);
  const said = res.headers.get('docker-content-digest');
  if (said && said !== digest) throw new Error(`the registry says the manifest is ${said}, we computed ${digest}`);
  return digest;
}

export interface PushedImage {
  manifestDigest: string;
  manifest: Buffer;
  manifestMediaType: string;
  configDigest: string;
  config: Buffer;
  layerDigests: string[];
  /** The descriptor an index would list it under (without a platform). */
  descriptor: Descriptor;
}

export interface ImageSpec {
  /** Layers as tar.gz bytes. */
  layers: Buffer[];
  /** The image config (an object is serialized as JSON). Default: a linux/amd64 config matching the layers. */
  config?: Buffer | Record<string, unknown>;
  /** OCI (default) or Docker v2 media types. */
  format?: 'oci' | 'docker';
}

/** A minimal image config for layers: diff_ids are the sha256 of the uncompressed tars. */
export function imageConfig(layers: Buffer[], platform = { os: 'linux', architecture: 'amd64' }): Record<string, unknown> {
  return {
    architecture: platform.architecture,
    os: platform.os,
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(gunzipSync(l))) },
    history: layers.map(() => ({ created_by: 'tslab test' })),
  };
}

/**
 * Pushes an image: its layers and config as blobs, then the manifest under `tag`. Works like
 * `docker push`, through the HTTP API only.
 */
export async function pushImage(registryUrl: string, repo: string, tag: string | undefined, spec: ImageSpec): Promise<PushedImage> {
  const docker = spec.format === 'docker';
  const config = Buffer.isBuffer(spec.config)
    ? spec.config
    : Buffer.from(JSON.stringify(spec.config ?? imageConfig(spec.layers)));
  const layerDigests: string[] = [];
  for (const layer of spec.layers) layerDigests.push(await pushBlob(registryUrl, repo, layer));
  const configDigest = await pushBlob(registryUrl, repo, config);
  const manifestMediaType = docker ? MEDIA.dockerManifest : MEDIA.ociManifest;
  const manifestJson = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: { mediaType: docker ? MEDIA.dockerConfig : MEDIA.ociConfig, digest: configDigest, size: config.length },
    layers: spec.layers.map((l, i) => ({
      mediaType: docker ? MEDIA.dockerLayerGzip : MEDIA.ociLayerGzip,
      digest: layerDigests[i],
      size: l.length,
    })),
  };
  const manifest = Buffer.from(JSON.stringify(manifestJson, null, 2));
  const manifestDigest = sha256(manifest);
  await pushManifest(registryUrl, repo, tag ?? manifestDigest, manifest, manifestMediaType);
  return {
    manifestDigest,
    manifest,
    manifestMediaType,
    configDigest,
    config,
    layerDigests,
    descriptor: { mediaType: manifestMediaType, digest: manifestDigest, size: manifest.length },
  };
}

/** Pushes an image index (OCI) or manifest list (Docker) over already pushed manifests. */
export async function pushIndex(
  registryUrl: string,
  repo: string,
  tag: string,
  manifests: Descriptor[],
  format: 'oci' | 'docker' = 'oci',
): Promise<{ digest: string; body: Buffer }> {
  const mediaType = format === 'docker' ? MEDIA.dockerList : MEDIA.ociIndex;
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2));
  const digest = await pushManifest(registryUrl, repo, tag, body, mediaType);
  return { digest, body };
}

// --- layers ------------------------------------------------------------------------------------------

function tarHeader(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => h.write(value, offset, length, 'utf8');
  const octal = (offset: number, length: number, n: number) => field(offset, length, n.toString(8).padStart(length - 1, '0') + '\0');
  field(0, 100, name);
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 1_700_000_000);
  h.fill(' ', 148, 156);
  h.write(type, 156, 1, 'utf8');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/**
 * A gzipped tar with the given files (paths relative, parents made as directories, names < 100 bytes).
 * Deterministic: the same files give the same bytes.
 */
export function makeLayer(files: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const name of Object.keys(files).sort()) {
    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/') + '/';
      if (!dirs.has(dir)) {
        dirs.add(dir);
        parts.push(tarHeader(dir, 0, '5', 0o755));
      }
    }
    const data = Buffer.isBuffer(files[name]) ? (files[name] as Buffer) : Buffer.from(files[name] as string);
    parts.push(tarHeader(name, data.length, '0', 0o644), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  // mtime 0 in the gzip header keeps the output byte-identical across runs.
  return gzipSync(Buffer.concat(parts), { level: 6 });
}
