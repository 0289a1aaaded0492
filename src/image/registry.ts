// A client for the OCI distribution API (what `docker pull` speaks), enough to pull an image:
//
//   GET /v2/                              the ping: which scheme works, and how the registry wants auth
//   GET /v2/<repo>/manifests/<ref>        an image manifest, or an index / manifest list to pick from
//   GET /v2/<repo>/blobs/<digest>         config and layers, resumed with `Range: bytes=N-`
//
// Auth is what registries send: a 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` means
// "get a token from realm" (anonymously, or with Basic credentials from TSLAB_REGISTRY_AUTH=user:pass),
// then retry with `Authorization: Bearer <token>`; `WWW-Authenticate: Basic` means send the credentials.
//
// Schemes: HTTPS, verified against the system CAs plus TSLAB_REGISTRY_CA (a PEM file) when set. Plain
// HTTP only for registries on this machine (localhost, 127.0.0.0/8, ::1) or with `insecure`: those are
// tried over HTTPS first and fall back to HTTP when the other end does not speak TLS, as Docker does.
//
// Blobs go into the ImageStore through writeBlobStream, which verifies the digest and keeps a broken
// download as `.partial` only; a retry (or the next pull) asks for the rest with a Range request.
//
// This file is the client and its requests; beside it: manifest.ts (what a manifest or index holds),
// registry-auth.ts (challenges and tokens), registry-http.ts (the connections), registry-blob.ts (resumed
// blob downloads), registry-error.ts (failures and which ones are retried).
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDigest } from './digest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, parseManifest, type Descriptor, type FetchedManifest } from './manifest.js';
import { RegistryAuth, credentialsFromEnv, parseChallenges, type Challenge, type Credentials } from './registry-auth.js';
import { pullBlob, type BlobResponse, type PullBlobOptions } from './registry-blob.js';
import { RegistryError, describeError, isRetryable, statusError, wrapNetworkError, type RetryInfo } from './registry-error.js';
import { RegistryHttp, TLS_VERIFY_CODES, readAll, trustedCas, type RawResponse } from './registry-http.js';
import { DigestMismatchError, type ImageStore } from './store.js';

export interface RegistryClientOptions {
  /** Basic credentials for the registry or its token service. Default: TSLAB_REGISTRY_AUTH=user:pass. */
  credentials?: Credentials;
  /** Extra CA certificates (PEM) to trust for HTTPS. Default: the file TSLAB_REGISTRY_CA names. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Allow plain HTTP to a registry that is not on this machine (loopback registries always may). */
  insecure?: boolean;
  /** How often a request that failed on the network (or with 429/5xx) is tried again. Default 4. */
  retries?: number;
  /** The first retry waits this long; each further one twice as long (at most 10 s). Default 500 ms. */
  retryDelayMs?: number;
  /** A connection idle this long fails (and is retried). Default 30 s. */
  timeoutMs?: number;
  /** Called before each retry. */
  onRetry?: (info: RetryInfo) => void;
}

export class RegistryClient {
  readonly registry: string;
  private readonly options: Required<Pick<RegistryClientOptions, 'retries' | 'retryDelayMs' | 'timeoutMs'>> & RegistryClientOptions;
  private readonly http: RegistryHttp;
  private readonly auth: RegistryAuth;
  private base?: string;
  private challenge?: Challenge;

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = registry;
    this.options = { retries: 4, retryDelayMs: 500, timeoutMs: 30_000, ...options };
    const credentials = options.credentials ?? credentialsFromEnv();
    this.http = new RegistryHttp({ timeoutMs: this.options.timeoutMs, insecure: options.insecure, ca: trustedCas(options.ca) });
    this.auth = new RegistryAuth(registry, credentials, this.http);
  }

  /** The base URL in use (`https://host` or `http://host`), once ping() found it. */
  get baseUrl(): string | undefined {
    return this.base;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.http.close();
  }

  /** Runs fn, retrying retryable failures with exponential backoff. */
  async withRetries<T>(what: string, fn: (attempt: number) => Promise<T>, signal?: AbortSignal, onRetry?: (info: RetryInfo) => void): Promise<T> {
    const { retries, retryDelayMs } = this.options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (err) {
        if (signal?.aborted || attempt >= retries || !isRetryable(err)) throw err;
        const error = err instanceof Error ? err : new Error(String(err));
        const retryAfter = (err as { retryAfterMs?: number }).retryAfterMs;
        const delayMs = Math.min(10_000, retryAfter ?? retryDelayMs * 2 ** attempt);
        const info = { what, attempt: attempt + 1, retries, delayMs, error };
        onRetry?.(info);
        this.options.onRetry?.(info);
        // Aborted: fail with the caller's reason ("interrupted: pull again to resume"), not Node's AbortError.
        await sleep(delayMs, undefined, { signal }).catch(() => {
          throw signal!.reason as Error;
        });
      }
    }
  }

  /**
   * GET /v2/: settles the scheme (HTTPS, or HTTP where allowed and the other end does not speak TLS)
   * and remembers the auth challenge. Returns the base URL.
   */
  async ping(signal?: AbortSignal): Promise<string> {
    if (this.base) return this.base;
    return this.withRetries(`ping ${this.registry}`, async () => {
      let res: RawResponse;
      let base = `https://${this.registry}`;
      try {
        res = await this.http.send(new URL(`${base}/v2/`), {}, signal);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (TLS_VERIFY_CODES.test(code)) {
          throw new RegistryError(
            `https://${this.registry}: its TLS certificate is not trusted (${describeError(err)}); ` +
              'point TSLAB_REGISTRY_CA at the PEM file of the CA that signed it',
            undefined,
            code,
          );
        }
        if (!this.http.httpAllowed(this.registry)) {
          throw wrapNetworkError(err, `https://${this.registry}/v2/`, true);
        }
        if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND'].includes(code)) {
          // Nothing listening is most often a wrong port: say so at once rather than after the retries.
          throw wrapNetworkError(err, `${this.registry}`, code !== 'ENOTFOUND' && code !== 'ECONNREFUSED');
        }
        // It answered, but not in TLS: try plain HTTP.
        base = `http://${this.registry}`;
        try {
          res = await this.http.send(new URL(`${base}/v2/`), {}, signal);
        } catch (err2) {
          throw wrapNetworkError(err2, `${this.registry} (over HTTPS: ${describeError(err)}; over HTTP)`, true);
        }
      }
      const body = await readAll(res.body, 64 * 1024);
      if (res.status === 401) {
        const challenges = parseChallenges(res.distinct['www-authenticate']);
        this.challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
        if (!this.challenge) throw new RegistryError(`${base}/v2/ wants authentication but names no scheme tslab knows (Bearer or Basic)`, 401, 'UNAUTHORIZED');
      } else if (res.status === 404) {
        throw new RegistryError(`${base} is not a registry: GET /v2/ gave 404 (it does not speak the distribution API)`, 404, 'NOT_FOUND');
      } else if (res.status !== 200) {
        throw statusError(res.status, res.headers, body, `GET ${base}/v2/`);
      }
      this.base = base;
      return base;
    }, signal);
  }

  /**
   * A GET on the registry for `repo`: authorized as the last challenge said; on a 401, the new
   * challenge is answered (a token for its scope) and the request sent once more.
   */
  private async get(repo: string, path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<RawResponse> {
    const base = await this.ping(signal);
    const scope = `repository:${repo}:pull`;
    const url = new URL(`${base}/v2/${repo}/${path}`);
    let challenge = this.challenge;
    for (let round = 0; ; round++) {
      const auth = await this.auth.authorization(challenge, scope, this.base, signal, round > 0);
      let res: RawResponse;
      try {
        res = await this.http.send(url, auth ? { ...headers, authorization: auth } : headers, signal);
      } catch (err) {
        throw wrapNetworkError(err, `GET ${url.pathname}`, true);
      }
      if (res.status !== 401 || round > 0) return res;
      const challenges = parseChallenges(res.distinct['www-authenticate']);
      const next = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
      if (!next) return res;
      res.body.resume();
      challenge = next;
      this.challenge = { scheme: next.scheme, params: { ...next.params, scope: '' } };
    }
  }

  /** GET a manifest by tag or digest; its digest is computed and checked against what was asked and what the registry says. */
  async getManifest(repo: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    return this.withRetries(`manifest ${repo}:${reference}`, async () => {
      const res = await this.get(repo, `manifests/${reference}`, { accept: MANIFEST_ACCEPT }, signal);
      const body = await readAll(res.body, MAX_MANIFEST_BYTES).catch((err: unknown) => {
        throw wrapNetworkError(err, `GET manifest ${repo}:${reference}`, true);
      });
      if (res.status !== 200) throw statusError(res.status, res.headers, body, `manifest ${this.registry}/${repo}:${reference}`);
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      if (isDigest(reference) && digest !== reference) {
        throw new DigestMismatchError(reference, digest, `manifest ${this.registry}/${repo}@${reference}`);
      }
      const said = res.headers['docker-content-digest'];
      if (typeof said === 'string' && said.startsWith('sha256:') && said !== digest) {
        throw new DigestMismatchError(said, digest, `manifest ${this.registry}/${repo}:${reference} (Docker-Content-Digest)`);
      }
      const parsed = parseManifest(body, res.headers['content-type']);
      return { ...parsed, digest, body };
    }, signal);
  }

  /** Opens a blob, from `offset` on when offset > 0 (Range). Does not retry. */
  async openBlob(repo: string, digest: string, offset = 0, signal?: AbortSignal): Promise<BlobResponse> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await this.get(repo, `blobs/${digest}`, headers, signal);
    if (res.status === 416 && offset > 0) {
      // The partial is as long as the blob or longer: it cannot be resumed, start over.
      res.body.resume();
      return this.openBlob(repo, digest, 0, signal);
    }
    if (res.status !== 200 && res.status !== 206) {
      const body = await readAll(res.body, 64 * 1024).catch(() => Buffer.alloc(0));
      throw statusError(res.status, res.headers, body, `blob ${repo}@${digest}`);
    }
    let start = 0;
    if (res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== offset) {
        res.body.destroy();
        throw new RegistryError(`blob ${digest}: asked for bytes ${offset}-, the registry sent Content-Range "${res.headers['content-range'] ?? ''}"`);
      }
      start = offset;
    }
    const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
    return { offset: start, body: res.body, length, cancel: () => res.body.destroy() };
  }

  /**
   * Downloads a blob into the store unless it is there: resumes a `.partial` left by an earlier attempt
   * with a Range request, retries network failures (each retry resuming where the last stopped) and lets
   * the store verify the digest. Returns the digest.
   */
  pullBlob(store: ImageStore, repo: string, desc: Descriptor, opts: PullBlobOptions = {}): Promise<string> {
    return pullBlob(this, store, repo, desc, opts);
  }
}
