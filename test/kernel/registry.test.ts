// `tslab pull` against a real registry: Debian's docker-registry on a loopback port, images pushed into
// it through the distribution API, and small Node proxies in front of it that demand a Bearer token,
// speak TLS, cut a download halfway or corrupt a byte. Everything runs on 127.0.0.1 and is removed after.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { PullProgress, formatBytes, renderBar } from '../../src/cli/progress-bars.js';
import { hostPlatform, loadImage } from '../../src/image/image.js';
import { pull, type LayerProgress } from '../../src/image/pull.js';
import { parseManifest, parsePlatform, selectManifest, type ImageIndex } from '../../src/image/manifest.js';
import { parseChallenges } from '../../src/image/registry-auth.js';
import { RegistryError } from '../../src/image/registry-error.js';
import { RegistryClient } from '../../src/image/registry.js';
import { DigestMismatchError, ImageStore } from '../../src/image/store.js';
import type { TestRun } from '../helpers/bundle.js';
import { MEDIA, imageConfig, makeLayer, pushImage, pushIndex, sha256, startRegistry, type TestRegistry } from '../helpers/registry.js';

const run = (inject as unknown as (key: 'tslabTest') => TestRun | undefined)('tslabTest');
fs.mkdirSync(run?.base ?? '/tmp', { recursive: true });
const work = fs.mkdtempSync(path.join(run?.base ?? '/tmp', 'registry-test-'));
const HOST_ARCH = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
const OTHER_ARCH = HOST_ARCH === 'amd64' ? 'arm64' : 'amd64';
/** Fast retries: the tests wait on them. */
const FAST = { retryDelayMs: 10, retries: 2 };

let registry: TestRegistry;
const stores: ImageStore[] = [];
const servers: http.Server[] = [];

function newStore(): ImageStore {
  const store = new ImageStore(fs.mkdtempSync(path.join(work, 'store-')));
  stores.push(store);
  return store;
}

/** Every file under blobs/ hashes to its name: nothing half-written is there. */
function expectBlobsIntact(store: ImageStore): void {
  for (const digest of store.blobs()) expect(sha256(fs.readFileSync(store.blobPath(digest))), digest).toBe(digest);
}

beforeAll(async () => {
  registry = await startRegistry(path.join(work, 'registry'));
});

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  for (const store of stores.splice(0)) fs.rmSync(store.root, { recursive: true, force: true });
});

afterAll(async () => {
  await registry?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

// --- a proxy in front of the registry ----------------------------------------------------------------

interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, forward: (opts?: ForwardOptions) => void) => void;

interface ForwardOptions {
  /** Called with each chunk of the upstream body; returns what to send on (default: the chunk). */
  transform?: (chunk: Buffer, offset: number) => Buffer;
  /** After this many body bytes, destroy the client's connection. */
  cutAfter?: number;
}

interface Proxy {
  host: string;
  url: string;
  requests: SeenRequest[];
}

async function startProxy(handler: Handler, tls?: { key: Buffer; cert: Buffer }): Promise<Proxy> {
  const requests: SeenRequest[] = [];
  const upstream = new URL(registry.url);
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '', headers: { ...req.headers } });
    const forward = (opts: ForwardOptions = {}) => {
      const headers = { ...req.headers, host: upstream.host };
      delete headers.authorization;
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          let offset = 0;
          let cut = false;
          upRes.on('data', (chunk: Buffer) => {
            if (cut) return;
            let out = opts.transform ? opts.transform(chunk, offset) : chunk;
            if (opts.cutAfter !== undefined && offset + out.length >= opts.cutAfter) {
              out = out.subarray(0, opts.cutAfter - offset);
              cut = true;
              res.write(out, () => res.socket?.destroy());
              upRes.destroy();
              return;
            }
            offset += out.length;
            res.write(out);
          });
          upRes.on('end', () => {
            if (!cut) res.end();
          });
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    handler(req, res, forward);
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, url: `${tls ? 'https' : 'http'}://${host}`, requests };
}

const isBlobGet = (req: { method?: string; url?: string }, digest: string) => req.method === 'GET' && req.url === `/v2/test/big/blobs/${digest}`;

// --- images ------------------------------------------------------------------------------------------

let smallImage: Awaited<ReturnType<typeof pushImage>>;
let bigImage: Awaited<ReturnType<typeof pushImage>>;
let bigLayer: Buffer;

beforeAll(async () => {
  smallImage = await pushImage(registry.url, 'test/small', 'v1', {
    layers: [makeLayer({ 'etc/hello': 'hello\n' }), makeLayer({ 'bin/tool': '#!/bin/sh\necho tool\n', 'etc/motd': 'hi\n' })],
  });
  bigLayer = makeLayer({ 'data/random.bin': randomBytes(2 * 1024 * 1024) });
  bigImage = await pushImage(registry.url, 'test/big', 'v1', { layers: [makeLayer({ 'etc/base': 'base\n' }), bigLayer] });
});

describe('the test registry', () => {
  test('serves what was pushed (by tag, with the digest we computed)', async () => {
    const res = await fetch(`${registry.url}/v2/test/small/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(smallImage.manifestDigest);
    expect(Buffer.from(await res.arrayBuffer()).equals(smallImage.manifest)).toBe(true);
  });
});

describe('tslab pull', () => {
  test('a single-platform image: manifest, config and two layers into the store, then the tag', async () => {
    const store = newStore();
    const events: LayerProgress[] = [];
    const messages: string[] = [];
    const result = await pull(`${registry.host}/test/small:v1`, {
      store,
      onProgress: (p) => events.push(p),
      onMessage: (m) => messages.push(m),
    });
    expect(result.name).toBe(`${registry.host}/test/small:v1`);
    expect(result.tagged).toBe(true);
    expect(result.digest).toBe(smallImage.manifestDigest);
    expect(result.mediaType).toBe(MEDIA.ociManifest);
    expect(result.indexDigest).toBeUndefined();
    expect(store.resolve(result.name)).toBe(smallImage.manifestDigest);
    expect(store.list()).toEqual([{ ref: `${registry.host}/test/small:v1`, digest: smallImage.manifestDigest }]);
    for (const d of [smallImage.manifestDigest, smallImage.configDigest, ...smallImage.layerDigests]) expect(store.hasBlob(d), d).toBe(true);
    expect(store.readBlob(smallImage.manifestDigest).equals(smallImage.manifest)).toBe(true);
    expectBlobsIntact(store);
    expect(result.downloaded).toBe(smallImage.config.length + result.manifest.layers.reduce((a, l) => a + l.size, 0));

    // Per layer: progress from 0 up to its size, ending in done.
    for (const [i, digest] of smallImage.layerDigests.entries()) {
      const mine = events.filter((e) => e.digest === digest);
      expect(mine.every((e) => e.kind === 'layer' && e.index === i && e.total === result.manifest.layers[i].size)).toBe(true);
      expect(mine[0]).toMatchObject({ status: 'downloading', done: 0 });
      expect(mine.at(-1)).toMatchObject({ status: 'done', done: mine[0].total });
    }
    expect(events.some((e) => e.kind === 'config' && e.status === 'done')).toBe(true);
    expect(messages.join('\n')).toContain(`tagged ${registry.host}/test/small:v1`);

    // The image is usable: image.ts reads it like an imported one.
    const image = loadImage(store, result.name);
    expect(image.manifestDigest).toBe(smallImage.manifestDigest);
    expect(image.layers.map((l) => l.digest)).toEqual(smallImage.layerDigests);

    // A second pull finds every blob there and downloads nothing.
    const again: LayerProgress[] = [];
    const second = await pull(`${registry.host}/test/small:v1`, { store, onProgress: (p) => again.push(p) });
    expect(second.downloaded).toBe(0);
    expect(again.filter((e) => e.kind === 'layer').map((e) => e.status)).toEqual(['exists', 'exists']);
  });

  test('a Docker v2 manifest (not OCI) pulls the same way', async () => {
    const pushed = await pushImage(registry.url, 'test/docker', 'latest', {
      layers: [makeLayer({ 'etc/docker': 'v2\n' })],
      format: 'docker',
    });
    const store = newStore();
    const result = await pull(`${registry.host}/test/docker`, { store });
    expect(result.name).toBe(`${registry.host}/test/docker:latest`);
    expect(result.mediaType).toBe(MEDIA.dockerManifest);
    expect(result.digest).toBe(pushed.manifestDigest);
    expect(loadImage(store, result.name).layers).toHaveLength(1);
  });

  test('an image index picks the manifest for this machine (linux/<arch>), or the one asked for', async () => {
    const host = await pushImage(registry.url, 'test/multi', undefined, {
      layers: [makeLayer({ 'etc/arch': `${HOST_ARCH}\n` })],
      config: imageConfig([makeLayer({ 'etc/arch': `${HOST_ARCH}\n` })], { os: 'linux', architecture: HOST_ARCH }),
    });
    const other = await pushImage(registry.url, 'test/multi', undefined, {
      layers: [makeLayer({ 'etc/arch': `${OTHER_ARCH}\n` })],
      config: imageConfig([makeLayer({ 'etc/arch': `${OTHER_ARCH}\n` })], { os: 'linux', architecture: OTHER_ARCH }),
    });
    const platformOf = (arch: string) => (arch === 'arm64' ? { os: 'linux', architecture: arch, variant: 'v8' } : { os: 'linux', architecture: arch });
    const index = await pushIndex(registry.url, 'test/multi', 'v1', [
      { ...other.descriptor, platform: platformOf(OTHER_ARCH) },
      { ...host.descriptor, platform: platformOf(HOST_ARCH) },
      { ...other.descriptor, platform: { os: 'unknown', architecture: 'unknown' } },
    ]);

    const store = newStore();
    const result = await pull(`${registry.host}/test/multi:v1`, { store });
    expect(result.indexDigest).toBe(index.digest);
    expect(result.platform).toMatchObject({ os: 'linux', architecture: HOST_ARCH });
    expect(result.digest).toBe(host.manifestDigest);
    expect(store.resolve(result.name)).toBe(host.manifestDigest);
    expect(store.hasBlob(host.layerDigests[0])).toBe(true);
    expect(store.hasBlob(other.layerDigests[0])).toBe(false);
    expect(store.hasBlob(index.digest)).toBe(true);

    const otherStore = newStore();
    const picked = await pull(`${registry.host}/test/multi:v1`, { store: otherStore, platform: parsePlatform(`linux/${OTHER_ARCH}`) });
    expect(picked.digest).toBe(other.manifestDigest);
    expect(otherStore.hasBlob(other.layerDigests[0])).toBe(true);

    await expect(pull(`${registry.host}/test/multi:v1`, { store: newStore(), platform: parsePlatform('linux/s390x') })).rejects.toThrow(
      new RegExp(`has no linux/s390x image; it has linux/${OTHER_ARCH}(/v8)?, linux/${HOST_ARCH}(/v8)? \\(pick one with --platform\\)`),
    );

    // A Docker manifest list works the same.
    await pushIndex(registry.url, 'test/multi', 'list', [
      { ...host.descriptor, mediaType: MEDIA.ociManifest, platform: platformOf(HOST_ARCH) },
      { ...other.descriptor, platform: platformOf(OTHER_ARCH) },
    ], 'docker');
    const listed = await pull(`${registry.host}/test/multi:list`, { store: newStore() });
    expect(listed.digest).toBe(host.manifestDigest);
  });

  test('by digest: verified against the digest, stored, not tagged, and loadable by name@digest', async () => {
    const store = newStore();
    const ref = `${registry.host}/test/small@${smallImage.manifestDigest}`;
    const result = await pull(ref, { store });
    expect(result.digest).toBe(smallImage.manifestDigest);
    expect(result.tagged).toBe(false);
    expect(result.name).toBe(ref);
    expect(store.list()).toEqual([]);
    expect(store.resolve(ref)).toBe(smallImage.manifestDigest);
    expect(loadImage(store, ref).configDigest).toBe(smallImage.configDigest);

    // With a tag beside the digest, the tag is set.
    const both = await pull(`${registry.host}/test/small:pinned@${smallImage.manifestDigest}`, { store });
    expect(both.tagged).toBe(true);
    expect(store.resolve(`${registry.host}/test/small:pinned`)).toBe(smallImage.manifestDigest);

    // A digest the registry does not have.
    const missing = `sha256:${'0'.repeat(64)}`;
    await expect(pull(`${registry.host}/test/small@${missing}`, { store: newStore() })).rejects.toThrow(/not found \(MANIFEST_UNKNOWN/);
  });

  test('clear errors: no registry in the reference, an unknown tag, an unknown repository, nothing listening', async () => {
    const store = newStore();
    await expect(pull('busybox', { store })).rejects.toThrow(/names no registry.*e\.g\. 127\.0\.0\.1:5000\/busybox/);
    await expect(pull(`${registry.host}/test/small:nope`, { store })).rejects.toThrow(
      new RegExp(`manifest ${registry.host}/test/small:nope: not found \\(MANIFEST_UNKNOWN`),
    );
    await expect(pull(`${registry.host}/no/such:v1`, { store })).rejects.toThrow(/not found \((NAME_UNKNOWN|MANIFEST_UNKNOWN)/);
    // A port nobody listens on (the proxy's, once closed).
    const gone = await startProxy((_req, res) => res.end());
    const server = servers.pop()!;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(pull(`${gone.host}/test/small:v1`, { store, ...FAST })).rejects.toThrow(/connection refused/);
    expect(store.list()).toEqual([]);
    expect(store.blobs()).toEqual([]);
  });
});

describe('auth', () => {
  const TOKEN = 'test-token-123';
  // These tests say which credentials there are: none from the environment.
  const savedAuth = process.env.TSLAB_REGISTRY_AUTH;
  beforeAll(() => {
    delete process.env.TSLAB_REGISTRY_AUTH;
  });
  afterAll(() => {
    if (savedAuth === undefined) delete process.env.TSLAB_REGISTRY_AUTH;
    else process.env.TSLAB_REGISTRY_AUTH = savedAuth;
  });

  /** A registry front that wants `Bearer TOKEN`, issued by its own /token, like Docker Hub's. */
  async function bearerProxy(opts: { user?: string; password?: string } = {}) {
    const tokenRequests: Array<{ query: URLSearchParams; authorization?: string }> = [];
    let proxy: Proxy;
    const handler: Handler = (req, res, forward) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        tokenRequests.push({ query: url.searchParams, authorization: req.headers.authorization });
        const wanted = opts.user ? `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}` : undefined;
        if (wanted && req.headers.authorization !== wanted) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN, expires_in: 300 }));
        return;
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        const repo = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(url.pathname)?.[1];
        const scope = repo ? `,scope="repository:${repo}:pull"` : '';
        res
          .writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer realm="${proxy.url}/token",service="tslab-test"${scope}`,
            'docker-distribution-api-version': 'registry/2.0',
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      forward();
    };
    proxy = await startProxy(handler);
    return { proxy, tokenRequests };
  }

  test('a 401 with a Bearer challenge: the client fetches a token from the realm and retries', async () => {
    const { proxy, tokenRequests } = await bearerProxy();
    const store = newStore();
    const result = await pull(`${proxy.host}/test/small:v1`, { store });
    expect(result.digest).toBe(smallImage.manifestDigest);
    expect(tokenRequests.length).toBeGreaterThanOrEqual(1);
    expect(tokenRequests[0].query.get('service')).toBe('tslab-test');
    expect(tokenRequests[0].query.getAll('scope')).toEqual(['repository:test/small:pull']);
    expect(tokenRequests[0].authorization).toBeUndefined();
    // Every registry request after the first challenge carried the token; the token is reused, not fetched per blob.
    const blobGets = proxy.requests.filter((r) => r.url.includes('/blobs/'));
    expect(blobGets.length).toBe(3);
    expect(blobGets.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(tokenRequests.length).toBe(1);
  });

  test('a token service that wants a login: refused without credentials, served with TSLAB_REGISTRY_AUTH-style ones', async () => {
    const { proxy, tokenRequests } = await bearerProxy({ user: 'alice', password: 's3cret:x' });
    try {
      await expect(pull(`${proxy.host}/test/small:v1`, { store: newStore() })).rejects.toThrow(
        /refused an anonymous token for repository:test\/small:pull \(HTTP 401\): set TSLAB_REGISTRY_AUTH=user:password/,
      );
      process.env.TSLAB_REGISTRY_AUTH = 'alice:s3cret:x';
      const store = newStore();
      const result = await pull(`${proxy.host}/test/small:v1`, { store });
      expect(result.tagged).toBe(true);
      expect(tokenRequests.at(-1)!.authorization).toBe(`Basic ${Buffer.from('alice:s3cret:x').toString('base64')}`);
    } finally {
      delete process.env.TSLAB_REGISTRY_AUTH;
    }
  });

  test('parses WWW-Authenticate as registries send it', () => {
    expect(parseChallenges('Bearer realm="https://auth.example.org/token",service="registry.example.org",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example.org/token', service: 'registry.example.org', scope: 'repository:a/b:pull,push' } },
    ]);
    expect(parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="x\\"y",error="insufficient_scope"'])).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'x"y', error: 'insufficient_scope' } },
    ]);
    expect(parseChallenges('Basic realm=simple, Bearer realm="r"')).toEqual([
      { scheme: 'basic', params: { realm: 'simple' } },
      { scheme: 'bearer', params: { realm: 'r' } },
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
  });
});

describe('HTTPS', () => {
  let tls: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(work, 'tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    tls = { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a registry that speaks TLS is pulled over HTTPS, its certificate checked against the CA given', async () => {
    const proxy = await startProxy((_req, _res, forward) => forward(), tls);
    await expect(pull(`${proxy.host}/test/small:v1`, { store: newStore(), ...FAST })).rejects.toThrow(
      /TLS certificate is not trusted .*TSLAB_REGISTRY_CA/,
    );
    const store = newStore();
    const result = await pull(`${proxy.host}/test/small:v1`, { store, ca: tls.cert });
    expect(result.digest).toBe(smallImage.manifestDigest);
    expect(proxy.requests.filter((r) => r.url.includes('/blobs/'))).toHaveLength(3);
  });

  test('a loopback registry without TLS falls back to plain HTTP; the client says which it uses', async () => {
    const client = new RegistryClient(registry.host);
    try {
      expect(await client.ping()).toBe(`http://${registry.host}`);
    } finally {
      client.close();
    }
  });
});

describe('broken downloads', () => {
  test('a connection cut halfway through a layer is retried with a Range request and the pull completes', async () => {
    const big = bigImage.layerDigests[1];
    let cuts = 0;
    const proxy = await startProxy((req, _res, forward) => {
      if (isBlobGet(req, big) && cuts === 0) {
        cuts++;
        forward({ cutAfter: Math.floor(bigLayer.length / 2) });
      } else forward();
    });
    const store = newStore();
    const events: LayerProgress[] = [];
    const result = await pull(`${proxy.host}/test/big:v1`, { store, ...FAST, onProgress: (p) => events.push(p) });
    expect(result.tagged).toBe(true);
    const gets = proxy.requests.filter((r) => isBlobGet(r, big));
    expect(gets).toHaveLength(2);
    expect(gets[0].headers.range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(String(gets[1].headers.range))?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(Math.floor(bigLayer.length / 2));
    const bigEvents = events.filter((e) => e.digest === big).map((e) => e.status);
    expect(bigEvents).toContain('retrying');
    expect(bigEvents).toContain('resuming');
    // Each byte came over the wire once.
    expect(events.filter((e) => e.digest === big).at(-1)!.received).toBe(bigLayer.length);
    expect(store.hasBlob(big)).toBe(true);
    expect(store.partialSize(big)).toBe(0);
    expectBlobsIntact(store);
  });

  test('an interrupted pull fails clearly and leaves the store consistent; the next pull resumes it', async () => {
    const big = bigImage.layerDigests[1];
    const half = Math.floor(bigLayer.length / 2);
    let broken = true;
    let cut = false;
    const proxy = await startProxy((req, res, forward) => {
      if (broken && isBlobGet(req, big)) {
        if (cut) {
          res.socket?.destroy(); // the network stays down: every retry fails too
          return;
        }
        cut = true;
        forward({ cutAfter: half });
        return;
      }
      forward();
    });
    const store = newStore();
    const ref = `${proxy.host}/test/big:v1`;
    const failure = await pull(ref, { store, ...FAST }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(RegistryError);
    const message = (failure as Error).message;
    expect(message).toContain(`blob ${big} failed after 3 attempts`);
    expect(message).toMatch(/bytes are kept, pull again to resume$/);

    // Consistent: no half blob, only the .partial; no manifest, no tag.
    const partial = store.partialSize(big);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThanOrEqual(half);
    expect(message).toContain(`${partial} of ${bigLayer.length} bytes are kept`);
    expect(store.hasBlob(big)).toBe(false);
    expect(fs.existsSync(store.blobPath(big))).toBe(false);
    expect(store.hasBlob(bigImage.manifestDigest)).toBe(false);
    expect(store.list()).toEqual([]);
    expect(store.resolve(ref)).toBeUndefined();
    expectBlobsIntact(store);

    // The network is back: the next pull asks only for the rest.
    broken = false;
    const before = proxy.requests.length;
    const events: LayerProgress[] = [];
    const result = await pull(ref, { store, ...FAST, onProgress: (p) => events.push(p) });
    expect(result.digest).toBe(bigImage.manifestDigest);
    const gets = proxy.requests.slice(before).filter((r) => isBlobGet(r, big));
    expect(gets.map((r) => r.headers.range)).toEqual([`bytes=${partial}-`]);
    expect(events.find((e) => e.digest === big)).toMatchObject({ status: 'resuming', done: partial });
    expect(events.filter((e) => e.digest === big).at(-1)).toMatchObject({ status: 'done', received: bigLayer.length - partial });
    expect(store.hasBlob(big)).toBe(true);
    expect(store.partialSize(big)).toBe(0);
    expect(store.resolve(ref)).toBe(bigImage.manifestDigest);
    expectBlobsIntact(store);
  });

  test('a registry that ignores Range: the download starts over from byte 0 and is still verified', async () => {
    const big = bigImage.layerDigests[1];
    let cut = false;
    const proxy = await startProxy((req, _res, forward) => {
      if (isBlobGet(req, big)) {
        delete req.headers.range;
        if (!cut) {
          cut = true;
          forward({ cutAfter: 300_000 });
          return;
        }
      }
      forward();
    });
    const store = newStore();
    const events: LayerProgress[] = [];
    await pull(`${proxy.host}/test/big:v1`, { store, ...FAST, onProgress: (p) => events.push(p) });
    const gets = proxy.requests.filter((r) => isBlobGet(r, big));
    expect(gets).toHaveLength(2);
    expect(gets[1].headers.range).toMatch(/^bytes=\d+-$/); // asked, but got a 200 with the whole blob
    const last = events.filter((e) => e.digest === big).at(-1)!;
    expect(last.status).toBe('done');
    expect(last.received).toBeGreaterThan(bigLayer.length); // the start came twice
    expect(store.hasBlob(big)).toBe(true);
    expectBlobsIntact(store);
  });

  test('a partial that already holds every byte is verified and kept, not downloaded again', async () => {
    const big = bigImage.layerDigests[1];
    const store = newStore();
    // A write that got every byte and then failed (as a crash before the rename would leave it).
    const allThenFail = async function* () {
      yield bigLayer;
      throw new Error('crash');
    };
    await expect(store.writeBlobStream(allThenFail(), big)).rejects.toThrow('crash');
    expect(store.partialSize(big)).toBe(bigLayer.length);
    const proxy = await startProxy((_req, _res, forward) => forward());
    await pull(`${proxy.host}/test/big:v1`, { store });
    expect(proxy.requests.filter((r) => isBlobGet(r, big))).toHaveLength(0);
    expect(store.hasBlob(big)).toBe(true);
    expect(store.partialSize(big)).toBe(0);
  });

  test('a blob whose bytes do not match its digest: DigestMismatchError, nothing stored, no tag', async () => {
    const big = bigImage.layerDigests[1];
    const proxy = await startProxy((req, _res, forward) => {
      if (isBlobGet(req, big)) {
        forward({
          transform: (chunk, offset) => {
            const at = 1000 - offset;
            if (at < 0 || at >= chunk.length) return chunk;
            const copy = Buffer.from(chunk);
            copy[at] ^= 0xff;
            return copy;
          },
        });
      } else forward();
    });
    const store = newStore();
    const ref = `${proxy.host}/test/big:v1`;
    const err = await pull(ref, { store, ...FAST }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).expected).toBe(big);
    expect((err as Error).message).toMatch(/digest mismatch/);
    // Not retried: the same bytes would come again.
    expect(proxy.requests.filter((r) => isBlobGet(r, big))).toHaveLength(1);
    expect(store.hasBlob(big)).toBe(false);
    expect(store.partialSize(big)).toBe(0);
    expect(store.hasBlob(bigImage.manifestDigest)).toBe(false);
    expect(store.list()).toEqual([]);
    expectBlobsIntact(store);
  });

  test('a manifest whose bytes do not match the digest asked for is refused', async () => {
    const proxy = await startProxy((req, _res, forward) => {
      if (req.url?.includes('/manifests/sha256:')) {
        forward({ transform: (chunk) => Buffer.from(chunk.toString('utf8').replace('"schemaVersion": 2', '"schemaVersion":  2')) });
      } else forward();
    });
    const store = newStore();
    await expect(pull(`${proxy.host}/test/small@${smallImage.manifestDigest}`, { store })).rejects.toBeInstanceOf(DigestMismatchError);
    expect(store.blobs()).toEqual([]);
  });
});

describe('progress', () => {
  test('bars on a terminal, plain lines otherwise', async () => {
    const events: LayerProgress[] = [];
    await pull(`${registry.host}/test/big:v1`, { store: newStore(), onProgress: (p) => events.push(p) });
    const layerEvents = events.filter((e) => e.kind === 'layer');

    let plain = '';
    const lines = new PullProgress({ write: (t: string) => (plain += t), isTTY: false });
    for (const e of events) lines.update(e);
    lines.finish();
    expect(plain).not.toContain('\x1b[');
    for (const digest of bigImage.layerDigests) {
      const short = digest.slice(7, 19);
      expect(plain).toContain(`${short}: downloading`);
      expect(plain).toMatch(new RegExp(`${short}: done \\(\\d`));
    }
    expect(plain.split('\n').filter(Boolean)).toHaveLength(4);

    let tty = '';
    let clock = 0;
    const bars = new PullProgress({ write: (t: string) => (tty += t), isTTY: true, columns: 100 }, { now: () => (clock += 200) });
    for (const e of layerEvents) bars.update(e);
    bars.message('a line above the bars');
    bars.finish();
    expect(tty).toContain('\x1b[2A'); // redrawn in place, two rows
    expect(tty).toMatch(/\[=+>? *\]/);
    expect(tty).toContain('a line above the bars');
    const finalRows = tty.slice(tty.lastIndexOf('a line above the bars'));
    expect(finalRows).toContain(`${bigImage.layerDigests[1].slice(7, 19)} done`);
  });

  test('sizes and bars', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1536)).toBe('1.54 kB');
    expect(formatBytes(2_097_152)).toBe('2.10 MB');
    expect(formatBytes(123_456_789)).toBe('123 MB');
    expect(renderBar(0, 100, 10)).toBe('[>         ]');
    expect(renderBar(50, 100, 10)).toBe('[=====>    ]');
    expect(renderBar(100, 100, 10)).toBe('[==========]');
    expect(renderBar(0, 0, 4)).toBe('[====]');
  });
});

describe('manifests and platforms', () => {
  test('the host platform is linux/<arch> in Go names', () => {
    expect(hostPlatform()).toMatchObject({ os: 'linux', architecture: HOST_ARCH });
  });

  test('selectManifest: exact variant first, arm64 with or without v8', () => {
    const d = (digit: string, platform: { os: string; architecture: string; variant?: string }) => ({
      mediaType: MEDIA.ociManifest,
      digest: `sha256:${digit.repeat(64)}`,
      size: 1,
      platform,
    });
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [
        d('1', { os: 'linux', architecture: 'arm', variant: 'v6' }),
        d('2', { os: 'linux', architecture: 'arm', variant: 'v7' }),
        d('3', { os: 'linux', architecture: 'arm64' }),
        d('4', { os: 'windows', architecture: 'amd64' }),
      ],
    };
    expect(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(`sha256:${'2'.repeat(64)}`);
    expect(selectManifest(index, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).toBe(`sha256:${'3'.repeat(64)}`);
    expect(() => selectManifest(index, { os: 'linux', architecture: 'amd64' }, 'r/x:1')).toThrow(
      'r/x:1 has no linux/amd64 image; it has linux/arm/v6, linux/arm/v7, linux/arm64, windows/amd64 (pick one with --platform)',
    );
  });

  test('parseManifest tells manifests from indexes and refuses schema 1', () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: MEDIA.ociConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 }, layers: [] }));
    expect(parseManifest(manifest).kind).toBe('manifest');
    expect(parseManifest(manifest, `${MEDIA.ociManifest}; charset=utf-8`).mediaType).toBe(MEDIA.ociManifest);
    expect(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }))).kind).toBe('index');
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'))).toThrow(/schema 1/);
    expect(() => parseManifest(Buffer.from('nope'))).toThrow(/not JSON/);
    const sha512 = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: MEDIA.ociConfig, digest: `sha512:${'a'.repeat(128)}`, size: 2 }, layers: [] }));
    expect(() => parseManifest(sha512)).toThrow(/only sha256/);
    expect(() => parsePlatform('linux')).toThrow(/os\/architecture/);
    expect(parsePlatform('linux/arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
  });
});
