// How the registry client fails: RegistryError (with the HTTP status, the registry's or Node's code, and
// whether another try may help), and the sorting of network errors and HTTP statuses behind the retries.
import type * as http from 'node:http';
import { DigestMismatchError } from './store.js';

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

const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'EARLY_END',
]);

/** True for errors worth another try: RegistryErrors marked so, and network errors. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RegistryError) return err.retryable;
  if (err instanceof DigestMismatchError) return false;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code && RETRYABLE_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /socket hang up|aborted|premature close/i.test(message);
}

/** A short description of an error for messages: its text, and Node's code when the text lacks it. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
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

export function wrapNetworkError(err: unknown, what: string, retryableIfNetwork: boolean): Error {
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

export function statusError(status: number, headers: http.IncomingHttpHeaders, body: Buffer, what: string): RegistryError {
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
