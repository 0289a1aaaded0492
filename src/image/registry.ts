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
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostPlatform } from './image.js';
import { isLoopbackRegistry } from './reference.js';
import { isDigest } from './digest.js';
import { MEDIA_TYPE } from './media-types.js';
import { DigestMismatchError, type ImageStore } from './store.js';

/** What a pull accepts for a manifest, best first. */
const MANIFEST_ACCEPT = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest].join(', ');
/** A manifest larger than this is refused (the distribution spec suggests registries cap them at 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export type ParsedManifest = { kind: 'manifest'; mediaType: string; manifest: ImageManifest } | { kind: 'index'; mediaType: string; index: ImageIndex };

export type FetchedManifest = ParsedManifest & { digest: string; body: Buffer };

export interface Credentials {
  username: string;
  password: string;
}

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

export interface RetryInfo {
  what: string;
  attempt: number;
  retries: number;
  delayMs: number;
  error: Error;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when the registry answered. */
    readonly status?: number,
    /** The registry's error code (MANIFEST_UNKNOWN, UNAUTHORIZED, …) or Node's (ECONNRESET, …). */
    readonly code?: string,
    /** True for failures worth trying again: the network, 408, 429 and 5xx. */
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

// --- platforms ---------------------------------------------------------------------------------------

/** This machine as an OCI platform (linux/amd64 on x64, linux/arm64/v8 on arm64): image.ts's, so pull and run agree. */
export { hostPlatform };

/** `linux/arm64`, `linux/arm/v7`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Parses `os/arch[/variant]` (as `--platform` takes it). */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, ...rest] = text.split('/');
  if (!os || !architecture || rest.length || variant === '') {
    throw new RegistryError(`"${text}" is not a platform: write os/architecture[/variant], e.g. linux/arm64`);
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

function variantOf(p: Platform): string | undefined {
  // arm64 images mostly say nothing, sometimes v8: the same thing.
  if (p.architecture === 'arm64' && (!p.variant || p.variant === 'v8')) return undefined;
  return p.variant || undefined;
}

/**
 * The manifest of an index that runs on `want`: os and architecture equal, and the variant equal when
 * both say one (an exact variant wins). Throws, listing what the index has, when none fits.
 */
export function selectManifest(index: ImageIndex, want: Platform, name = 'the image'): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture,
  );
  const wantVariant = variantOf(want);
  const exact = candidates.find((m) => variantOf(m.platform!) === wantVariant);
  const loose = candidates.find((m) => !wantVariant || !variantOf(m.platform!));
  const chosen = exact ?? loose;
  if (chosen) return chosen;
  const available = index.manifests
    .map((m) => (m.platform ? formatPlatform(m.platform) : '(no platform)'))
    .filter((p) => p !== 'unknown/unknown');
  throw new RegistryError(
    `${name} has no ${formatPlatform(want)} image; it has ${available.length ? available.join(', ') : 'none'}` +
      ' (pick one with --platform)',
    undefined,
    'PLATFORM_UNAVAILABLE',
  );
}

// --- manifests ---------------------------------------------------------------------------------------

function checkDescriptor(d: unknown, where: string): Descriptor {
  const desc = d as Partial<Descriptor> | null;
  if (!desc || typeof desc !== 'object') throw new RegistryError(`${where}: not a descriptor`);
  if (typeof desc.digest !== 'string' || !isDigest(desc.digest)) {
    throw new RegistryError(
      `${where}: digest ${JSON.stringify(desc.digest)} is not supported (only sha256:<64 lowercase hex>)`,
      undefined,
      'DIGEST_INVALID',
    );
  }
  if (typeof desc.size !== 'number' || !Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new RegistryError(`${where}: size ${JSON.stringify(desc.size)} is not a byte count`);
  }
  if (typeof desc.mediaType !== 'string') throw new RegistryError(`${where}: no mediaType`);
  return desc as Descriptor;
}

/**
 * Parses a manifest body into an image manifest or an index, by the Content-Type the registry sent,
 * else its mediaType field, else its shape. Refuses schema 1 and anything else.
 */
export function parseManifest(body: Buffer, contentType?: string): ParsedManifest {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new RegistryError('the manifest is not JSON', undefined, 'MANIFEST_INVALID');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new RegistryError('the manifest is not a JSON object', undefined, 'MANIFEST_INVALID');
  const header = contentType?.split(';')[0].trim().toLowerCase();
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  let mediaType = declared ?? (header && header !== 'application/json' && header !== 'application/octet-stream' ? header : undefined);
  if (!mediaType) mediaType = Array.isArray(json.manifests) ? MEDIA_TYPE.ociIndex : MEDIA_TYPE.ociManifest;

  if (mediaType === MEDIA_TYPE.dockerSchema1 || mediaType === MEDIA_TYPE.dockerSchema1Signed || json.schemaVersion === 1) {
    throw new RegistryError('the registry serves this image as a Docker schema 1 manifest, which tslab does not pull (push it again with a current client)', undefined, 'MANIFEST_UNSUPPORTED');
  }
  if (json.schemaVersion !== 2) throw new RegistryError(`the manifest has schemaVersion ${JSON.stringify(json.schemaVersion)}, not 2`, undefined, 'MANIFEST_INVALID');

  if (mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.dockerManifestList) {
    if (!Array.isArray(json.manifests)) throw new RegistryError('the index has no manifests list', undefined, 'MANIFEST_INVALID');
    const manifests = json.manifests.map((m, i) => checkDescriptor(m, `index entry ${i}`));
    return { kind: 'index', mediaType, index: { ...(json as object), schemaVersion: 2, manifests } as ImageIndex };
  }
  if (mediaType === MEDIA_TYPE.ociManifest || mediaType === MEDIA_TYPE.dockerManifest) {
    const config = checkDescriptor(json.config, 'the manifest config');
    if (!Array.isArray(json.layers)) throw new RegistryError('the manifest has no layers list', undefined, 'MANIFEST_INVALID');
    const layers = json.layers.map((l, i) => checkDescriptor(l, `layer ${i}`));
    return { kind: 'manifest', mediaType, manifest: { ...(json as object), schemaVersion: 2, config, layers } as ImageManifest };
  }
  throw new RegistryError(`the manifest is of media type ${mediaType}, which is not an image manifest or index`, undefined, 'MANIFEST_UNSUPPORTED');
}

// --- auth --------------------------------------------------------------------------------------------

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses WWW-Authenticate values (RFC 7235): `Bearer realm="…",service="…",scope="…"`. One header may
 * carry several challenges; so may several headers.
 */
export function parseChallenges(values: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const value of Array.isArray(values) ? values : values ? [values] : []) {
    let i = 0;
    const s = value;
    const skip = (chars: string) => {
      while (i < s.length && chars.includes(s[i])) i++;
    };
    const token = () => {
      const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i));
      if (!m) return '';
      i += m[0].length;
      return m[0];
    };
    let current: Challenge | undefined;
    while (i < s.length) {
      skip(' \t,');
      const start = i;
      const word = token();
      if (!word) break;
      skip(' \t');
      if (s[i] === '=' && current) {
        i++;
        skip(' \t');
        let val = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            val += s[i++];
          }
          i++;
        } else {
          val = token();
        }
        current.params[word.toLowerCase()] = val;
      } else if (s[i] === '=' && !current) {
        i = start;
        break;
      } else {
        current = { scheme: word.toLowerCase(), params: {} };
        out.push(current);
        // token68 form (`Negotiate abc==`): keep it whole, it is not ours to read.
        const t68 = /^[A-Za-z0-9._~+/-]+=*(?=\s*(,|$))/.exec(s.slice(i));
        if (t68 && !/^[A-Za-z0-9._~+/-]+\s*=[^=]/.test(s.slice(i))) {
          current.params.token68 = t68[0];
          i += t68[0].length;
        }
      }
    }
  }
  return out;
}

/** TSLAB_REGISTRY_AUTH=user:pass, if set. */
function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const raw = env.TSLAB_REGISTRY_AUTH;
  if (!raw) return undefined;
  const colon = raw.indexOf(':');
  if (colon <= 0) throw new RegistryError('TSLAB_REGISTRY_AUTH must be user:password');
  return { username: raw.slice(0, colon), password: raw.slice(colon + 1) };
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

// --- retries -----------------------------------------------------------------------------------------

const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'EARLY_END',
]);

/** True for errors worth another try: RegistryErrors marked so, and network errors. */
function isRetryable(err: unknown): boolean {
  if (err instanceof RegistryError) return err.retryable;
  if (err instanceof DigestMismatchError) return false;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code && RETRYABLE_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /socket hang up|aborted|premature close/i.test(message);
}

/** A short description of an error for messages: its text, and Node's code when the text lacks it. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}

// --- HTTP --------------------------------------------------------------------------------------------

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  distinct: NodeJS.Dict<string[]>;
  body: http.IncomingMessage;
  url: URL;
}

const TLS_VERIFY_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|HOSTNAME_MISMATCH/;

function readAll(res: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        res.destroy(new RegistryError(`the response is larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    let ended = false;
    res.once('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    res.once('error', reject);
    res.once('close', () => {
      if (!ended) reject(Object.assign(new Error('the connection closed before the response was complete'), { code: 'ECONNRESET' }));
    });
  });
}

/** The registry's error text from a JSON error body ({"errors":[{"code","message"}]}), if it has one. */
function registryErrorText(body: Buffer): { code?: string; text?: string } {
  try {
    const json = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const first = json.errors?.[0];
    if (first) return { code: first.code, text: [first.code, first.message].filter(Boolean).join(': ') };
  } catch {
    /* not JSON */
  }
  const text = body.toString('utf8').trim().slice(0, 200);
  return text ? { text } : {};
}

export interface BlobResponse {
  /** Where the body starts in the blob: the offset asked for when the registry honoured the Range, else 0. */
  offset: number;
  /** The body; iterate it once. */
  body: AsyncIterable<Uint8Array>;
  /** Content-Length of this response, when sent. */
  length?: number;
  /** Drops the response (and its connection) unread. */
  cancel(): void;
}

export interface BlobProgress {
  digest: string;
  /** The blob's size from its descriptor. */
  total: number;
  /** Bytes of it in the store (including a resumed partial). */
  done: number;
  /** Bytes received from the registry for it by this pull, over all attempts. */
  received: number;
  status: 'waiting' | 'downloading' | 'resuming' | 'retrying' | 'exists' | 'done';
}

export interface PullBlobOptions {
  onProgress?: (p: BlobProgress) => void;
  signal?: AbortSignal;
}

/**
 * The CAs of NODE_EXTRA_CA_CERTS. bin/tslab.cjs starts Node without that variable (Node would read it at
 * every start-up, TLS or not), so the one place that speaks TLS reads it here. Unreadable: ignored, as Node does.
 */
function nodeExtraCa(): Buffer | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

export class RegistryClient {
  readonly registry: string;
  private readonly options: Required<Pick<RegistryClientOptions, 'retries' | 'retryDelayMs' | 'timeoutMs'>> & RegistryClientOptions;
  private readonly credentials?: Credentials;
  private readonly ca?: Array<string | Buffer>;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;
  private base?: string;
  private challenge?: Challenge;
  private readonly tokens = new Map<string, { token: Promise<{ token: string; seconds: number }>; expires: number }>();

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = registry;
    this.options = { retries: 4, retryDelayMs: 500, timeoutMs: 30_000, ...options };
    this.credentials = options.credentials ?? credentialsFromEnv();
    let ca = options.ca;
    if (ca === undefined && process.env.TSLAB_REGISTRY_CA) {
      try {
        ca = fs.readFileSync(process.env.TSLAB_REGISTRY_CA);
      } catch (err) {
        throw new RegistryError(`TSLAB_REGISTRY_CA: cannot read ${process.env.TSLAB_REGISTRY_CA}: ${describeError(err)}`);
      }
    }
    ca ??= nodeExtraCa();
    // An agent's `ca` replaces the system's CAs: keep those trusted next to the extra ones.
    if (ca !== undefined) this.ca = [...rootCertificates, ...(Array.isArray(ca) ? ca : [ca])];
    this.httpsAgent = new https.Agent({ keepAlive: true, ...(this.ca ? { ca: this.ca } : {}) });
  }

  /** The base URL in use (`https://host` or `http://host`), once ping() found it. */
  get baseUrl(): string | undefined {
    return this.base;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
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

  /** One request, following redirects (Authorization goes only to the registry's own origin). */
  private async send(url: URL, headers: Record<string, string>, signal?: AbortSignal, method = 'GET'): Promise<RawResponse> {
    const origin = url.origin;
    for (let hop = 0; ; hop++) {
      const res = await this.sendOnce(url, url.origin === origin ? headers : withoutAuth(headers), signal, method);
      if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location && hop < MAX_REDIRECTS) {
        res.body.resume();
        url = new URL(res.headers.location, url);
        if (url.protocol === 'http:' && !this.httpAllowed(url.host)) {
          throw new RegistryError(`the registry redirected to ${url.origin} over plain HTTP, which tslab refuses for a host that is not on this machine (use --insecure)`);
        }
        continue;
      }
      return res;
    }
  }

  private sendOnce(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined, method: string): Promise<RawResponse> {
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          headers: { 'user-agent': 'tslab', ...headers },
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          signal,
          timeout: this.options.timeoutMs,
        },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, distinct: res.headersDistinct, body: res, url }),
      );
      req.once('timeout', () =>
        req.destroy(Object.assign(new Error(`no data from ${url.host} for ${this.options.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      );
      req.once('error', reject);
      req.end();
    });
  }

  private httpAllowed(host: string): boolean {
    return this.options.insecure === true || isLoopbackRegistry(host);
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
        res = await this.send(new URL(`${base}/v2/`), {}, signal);
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
        if (!this.httpAllowed(this.registry)) {
          throw wrapNetworkError(err, `https://${this.registry}/v2/`, true);
        }
        if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND'].includes(code)) {
          // Nothing listening is most often a wrong port: say so at once rather than after the retries.
          throw wrapNetworkError(err, `${this.registry}`, code !== 'ENOTFOUND' && code !== 'ECONNREFUSED');
        }
        // It answered, but not in TLS: try plain HTTP.
        base = `http://${this.registry}`;
        try {
          res = await this.send(new URL(`${base}/v2/`), {}, signal);
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

  private async token(challenge: Challenge, scope: string, signal?: AbortSignal, fresh = false): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError(`the registry's Bearer challenge names no realm to get a token from`, 401, 'UNAUTHORIZED');
    const scopes = challenge.params.scope ? challenge.params.scope : scope;
    const key = `${realm} ${challenge.params.service ?? ''} ${scopes}`;
    const cached = this.tokens.get(key);
    if (cached && !fresh && cached.expires > Date.now()) return (await cached.token).token;
    // Concurrent requests (the layers of one pull) share one token request.
    const entry = { token: this.fetchToken(challenge, realm, scopes, signal), expires: Number.MAX_SAFE_INTEGER };
    this.tokens.set(key, entry);
    try {
      const { token, seconds } = await entry.token;
      entry.expires = Date.now() + Math.max(0, seconds - 10) * 1000;
      return token;
    } catch (err) {
      if (this.tokens.get(key) === entry) this.tokens.delete(key);
      throw err;
    }
  }

  private async fetchToken(challenge: Challenge, realm: string, scopes: string, signal?: AbortSignal): Promise<{ token: string; seconds: number }> {
    const url = new URL(realm);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError(`token realm ${realm} is not an http(s) URL`);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const s of scopes.split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.credentials) {
      if (url.protocol === 'http:' && !this.httpAllowed(url.host)) {
        throw new RegistryError(`refusing to send TSLAB_REGISTRY_AUTH credentials over plain HTTP to ${url.origin}`);
      }
      headers.authorization = basicHeader(this.credentials);
    }
    if (url.protocol === 'http:' && !this.httpAllowed(url.host)) {
      throw new RegistryError(`the token service ${url.origin} is plain HTTP on a host that is not on this machine (use --insecure)`);
    }
    let res: RawResponse;
    try {
      res = await this.send(url, headers, signal);
    } catch (err) {
      throw wrapNetworkError(err, `the token service ${url.origin}`, true);
    }
    const body = await readAll(res.body, 1024 * 1024);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        `the token service ${url.origin} refused ${this.credentials ? `the credentials of ${this.credentials.username}` : 'an anonymous token'} for ${scopes} (HTTP ${res.status})` +
          (this.credentials ? '' : ': set TSLAB_REGISTRY_AUTH=user:password'),
        res.status,
        'UNAUTHORIZED',
      );
    }
    if (res.status !== 200) throw statusError(res.status, res.headers, body, `GET ${url.origin}${url.pathname}`);
    let json: { token?: string; access_token?: string; expires_in?: number };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      throw new RegistryError(`the token service ${url.origin} did not answer JSON`);
    }
    const token = json.token ?? json.access_token;
    if (!token) throw new RegistryError(`the token service ${url.origin} answered without a token`);
    const seconds = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60;
    return { token, seconds };
  }

  private async authorization(challenge: Challenge | undefined, scope: string, signal?: AbortSignal, fresh = false): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'bearer') return `Bearer ${await this.token(challenge, scope, signal, fresh)}`;
    if (challenge.scheme === 'basic') {
      if (!this.credentials) {
        throw new RegistryError(`${this.registry} wants a user name and password: set TSLAB_REGISTRY_AUTH=user:password`, 401, 'UNAUTHORIZED');
      }
      if (this.base?.startsWith('http:') && !this.httpAllowed(this.registry)) {
        throw new RegistryError(`refusing to send credentials over plain HTTP to ${this.registry}`);
      }
      return basicHeader(this.credentials);
    }
    return undefined;
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
      const auth = await this.authorization(challenge, scope, signal, round > 0);
      let res: RawResponse;
      try {
        res = await this.send(url, auth ? { ...headers, authorization: auth } : headers, signal);
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
  async pullBlob(store: ImageStore, repo: string, desc: Descriptor, opts: PullBlobOptions = {}): Promise<string> {
    const { onProgress, signal } = opts;
    let received = 0;
    const report = (done: number, status: BlobProgress['status']) =>
      onProgress?.({ digest: desc.digest, total: desc.size, done, received, status });
    if (store.hasBlob(desc.digest)) {
      report(desc.size, 'exists');
      return desc.digest;
    }
    let attempts = 0;
    try {
      return await this.withRetries(
        `blob ${desc.digest}`,
        async () => {
          attempts++;
          const partial = store.partialSize(desc.digest);
          if (partial === desc.size && partial > 0) {
            // Every byte arrived before (a crash between the last write and the rename): verify and keep it.
            try {
              const stored = await store.writeBlobStream(noBytes(), desc.digest, { append: true });
              report(desc.size, 'done');
              return stored;
            } catch (err) {
              if (!(err instanceof DigestMismatchError)) throw err;
              // The store dropped the bad partial: download it all.
            }
          }
          const offset = partial > 0 && partial < desc.size ? partial : 0;
          report(offset, offset > 0 ? 'resuming' : 'downloading');
          const blob = await this.openBlob(repo, desc.digest, offset, signal);
          if (blob.length !== undefined && blob.offset + blob.length !== desc.size) {
            blob.cancel();
            throw new RegistryError(
              `blob ${desc.digest}: the registry sends ${blob.offset + blob.length} bytes, the manifest says ${desc.size}`,
              undefined,
              'SIZE_INVALID',
            );
          }
          let done = blob.offset;
          let last = 0;
          const counted = async function* (): AsyncGenerator<Uint8Array> {
            for await (const chunk of blob.body) {
              done += chunk.length;
              received += chunk.length;
              if (done > desc.size) {
                throw new RegistryError(`blob ${desc.digest}: the registry sent more than the ${desc.size} bytes the manifest says`, undefined, 'SIZE_INVALID');
              }
              yield chunk;
              const now = Date.now();
              if (now - last >= 50 || done === desc.size) {
                last = now;
                report(done, 'downloading');
              }
            }
            if (done < desc.size) {
              throw Object.assign(new Error(`the connection ended after ${done} of ${desc.size} bytes`), { code: 'EARLY_END' });
            }
          };
          let stored: string;
          try {
            stored = await store.writeBlobStream(counted(), desc.digest, { append: blob.offset > 0 });
          } catch (err) {
            blob.cancel();
            throw wrapNetworkError(err, `blob ${desc.digest}`, true);
          }
          report(desc.size, 'done');
          return stored;
        },
        signal,
        () => report(store.partialSize(desc.digest), 'retrying'),
      );
    } catch (err) {
      if (err instanceof DigestMismatchError || signal?.aborted || !(err instanceof Error)) throw err;
      const kept = store.partialSize(desc.digest);
      const e = new RegistryError(
        `blob ${desc.digest} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${err.message.replace(`blob ${desc.digest}: `, '')}` +
          (kept > 0 ? `; ${kept} of ${desc.size} bytes are kept, pull again to resume` : ''),
        err instanceof RegistryError ? err.status : undefined,
        err instanceof RegistryError ? err.code : (err as NodeJS.ErrnoException).code,
        false,
      );
      e.cause = err;
      throw e;
    }
  }
}

async function* noBytes(): AsyncGenerator<Uint8Array> {
  // Nothing to add to a partial that is already complete.
}

function withoutAuth(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  delete out.authorization;
  return out;
}

function wrapNetworkError(err: unknown, what: string, retryableIfNetwork: boolean): Error {
  if (err instanceof RegistryError || err instanceof DigestMismatchError) return err;
  if ((err as Error)?.name === 'AbortError') return err as Error;
  const retryable = retryableIfNetwork && isRetryable(err);
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const text =
    code === 'ECONNREFUSED'
      ? 'connection refused (is a registry listening on that address and port?)'
      : code === 'ENOTFOUND'
        ? `no such host (${describeError(err)})`
        : describeError(err);
  const e = new RegistryError(`${what}: ${text}`, undefined, code, retryable);
  e.cause = err;
  return e;
}

function statusError(status: number, headers: http.IncomingHttpHeaders, body: Buffer, what: string): RegistryError {
  const { code, text } = registryErrorText(body);
  const retryable = status === 408 || status === 429 || status >= 500;
  let message = `${what}: HTTP ${status}${text ? ` (${text})` : ''}`;
  if (status === 404) message = `${what}: not found${text ? ` (${text})` : ''}`;
  if (status === 401) message = `${what}: unauthorized${text ? ` (${text})` : ''}; set TSLAB_REGISTRY_AUTH=user:password if the registry needs a login`;
  if (status === 403) message = `${what}: forbidden${text ? ` (${text})` : ''}`;
  const err = new RegistryError(message, status, code, retryable);
  const retryAfter = Number(headers['retry-after']);
  if (retryable && Number.isFinite(retryAfter) && retryAfter >= 0) Object.assign(err, { retryAfterMs: retryAfter * 1000 });
  return err;
}
