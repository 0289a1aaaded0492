// Downloading one blob into the store: a `.partial` left by an earlier attempt is resumed with a Range
// request, network failures are retried (each retry resuming where the last stopped), and the store
// verifies the digest.
import type { Descriptor } from './manifest.js';
import { RegistryError, wrapNetworkError, type RetryInfo } from './registry-error.js';
import { DigestMismatchError, type ImageStore } from './store.js';

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

/** What pullBlob needs of a registry client. */
export interface BlobSource {
  withRetries<T>(what: string, fn: (attempt: number) => Promise<T>, signal?: AbortSignal, onRetry?: (info: RetryInfo) => void): Promise<T>;
  openBlob(repo: string, digest: string, offset?: number, signal?: AbortSignal): Promise<BlobResponse>;
}

type Report = (done: number, status: BlobProgress['status']) => void;

/** Downloads a blob into the store unless it is there; returns the digest. */
export async function pullBlob(client: BlobSource, store: ImageStore, repo: string, desc: Descriptor, opts: PullBlobOptions = {}): Promise<string> {
  const { onProgress, signal } = opts;
  const counter = { received: 0 };
  const report: Report = (done, status) => onProgress?.({ digest: desc.digest, total: desc.size, done, received: counter.received, status });
  if (store.hasBlob(desc.digest)) {
    report(desc.size, 'exists');
    return desc.digest;
  }
  let attempts = 0;
  try {
    return await client.withRetries(
      `blob ${desc.digest}`,
      async () => {
        attempts++;
        return downloadBlob(client, store, repo, desc, { signal, report, counter });
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

/** One attempt: what a partial lacks (or all of it), counted as it arrives and checked against the descriptor's size. */
async function downloadBlob(
  client: BlobSource,
  store: ImageStore,
  repo: string,
  desc: Descriptor,
  { signal, report, counter }: { signal?: AbortSignal; report: Report; counter: { received: number } },
): Promise<string> {
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
  const blob = await client.openBlob(repo, desc.digest, offset, signal);
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
      counter.received += chunk.length;
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
}

async function* noBytes(): AsyncGenerator<Uint8Array> {
  // Nothing to add to a partial that is already complete.
}
