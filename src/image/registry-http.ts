// The registry client's HTTP: kept-alive agents, redirects (Authorization only to the registry's own
// origin, never to plain HTTP off this machine), a timeout on idle connections, responses read with a cap.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { rootCertificates } from 'node:tls';
import { isLoopbackRegistry } from './reference.js';
import { RegistryError, describeError } from './registry-error.js';

const MAX_REDIRECTS = 5;

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  distinct: NodeJS.Dict<string[]>;
  body: http.IncomingMessage;
  url: URL;
}

export const TLS_VERIFY_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|HOSTNAME_MISMATCH/;

export function readAll(res: http.IncomingMessage, limit: number): Promise<Buffer> {
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

/**
 * The CAs an HTTPS connection trusts: the system's, plus `ca`, else the file TSLAB_REGISTRY_CA names, else
 * NODE_EXTRA_CA_CERTS's; undefined when there are no extra ones (the agent's default then).
 */
export function trustedCas(ca: string | Buffer | Array<string | Buffer> | undefined): Array<string | Buffer> | undefined {
  if (ca === undefined && process.env.TSLAB_REGISTRY_CA) {
    try {
      ca = fs.readFileSync(process.env.TSLAB_REGISTRY_CA);
    } catch (err) {
      throw new RegistryError(`TSLAB_REGISTRY_CA: cannot read ${process.env.TSLAB_REGISTRY_CA}: ${describeError(err)}`);
    }
  }
  ca ??= nodeExtraCa();
  // An agent's `ca` replaces the system's CAs: keep those trusted next to the extra ones.
  return ca !== undefined ? [...rootCertificates, ...(Array.isArray(ca) ? ca : [ca])] : undefined;
}

export interface RegistryHttpOptions {
  timeoutMs: number;
  insecure?: boolean;
  ca?: Array<string | Buffer>;
}

export class RegistryHttp {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;

  constructor(private readonly opts: RegistryHttpOptions) {
    this.httpsAgent = new https.Agent({ keepAlive: true, ...(opts.ca ? { ca: opts.ca } : {}) });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** One request, following redirects (Authorization goes only to the registry's own origin). */
  async send(url: URL, headers: Record<string, string>, signal?: AbortSignal, method = 'GET'): Promise<RawResponse> {
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
          timeout: this.opts.timeoutMs,
        },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, distinct: res.headersDistinct, body: res, url }),
      );
      req.once('timeout', () =>
        req.destroy(Object.assign(new Error(`no data from ${url.host} for ${this.opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      );
      req.once('error', reject);
      req.end();
    });
  }

  /** Plain HTTP is for registries on this machine, or any with `insecure`. */
  httpAllowed(host: string): boolean {
    return this.opts.insecure === true || isLoopbackRegistry(host);
  }
}

function withoutAuth(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  delete out.authorization;
  return out;
}
