// Registry auth as registries ask for it: WWW-Authenticate challenges, Basic credentials from
// TSLAB_REGISTRY_AUTH, and Bearer tokens from the challenge's realm, cached per scope until they expire.
import { RegistryError, statusError, wrapNetworkError } from './registry-error.js';
import { readAll, type RawResponse, type RegistryHttp } from './registry-http.js';

export interface Credentials {
  username: string;
  password: string;
}

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
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const raw = env.TSLAB_REGISTRY_AUTH;
  if (!raw) return undefined;
  const colon = raw.indexOf(':');
  if (colon <= 0) throw new RegistryError('TSLAB_REGISTRY_AUTH must be user:password');
  return { username: raw.slice(0, colon), password: raw.slice(colon + 1) };
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The Authorization header for each request: Basic credentials, or a Bearer token fetched once per scope. */
export class RegistryAuth {
  private readonly tokens = new Map<string, { token: Promise<{ token: string; seconds: number }>; expires: number }>();

  constructor(
    private readonly registry: string,
    private readonly credentials: Credentials | undefined,
    private readonly http: RegistryHttp,
  ) {}

  async authorization(challenge: Challenge | undefined, scope: string, base: string | undefined, signal?: AbortSignal, fresh = false): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'bearer') return `Bearer ${await this.token(challenge, scope, signal, fresh)}`;
    if (challenge.scheme === 'basic') {
      if (!this.credentials) {
        throw new RegistryError(`${this.registry} wants a user name and password: set TSLAB_REGISTRY_AUTH=user:password`, 401, 'UNAUTHORIZED');
      }
      if (base?.startsWith('http:') && !this.http.httpAllowed(this.registry)) {
        throw new RegistryError(`refusing to send credentials over plain HTTP to ${this.registry}`);
      }
      return basicHeader(this.credentials);
    }
    return undefined;
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
      if (url.protocol === 'http:' && !this.http.httpAllowed(url.host)) {
        throw new RegistryError(`refusing to send TSLAB_REGISTRY_AUTH credentials over plain HTTP to ${url.origin}`);
      }
      headers.authorization = basicHeader(this.credentials);
    }
    if (url.protocol === 'http:' && !this.http.httpAllowed(url.host)) {
      throw new RegistryError(`the token service ${url.origin} is plain HTTP on a host that is not on this machine (use --insecure)`);
    }
    let res: RawResponse;
    try {
      res = await this.http.send(url, headers, signal);
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
}
