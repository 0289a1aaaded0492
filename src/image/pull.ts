// `tslab pull REF`: an image from a registry into the ImageStore.
//
//   1. the manifest by tag or digest; an index (OCI) or manifest list (Docker) is narrowed to the
//      manifest for this machine's platform (or `platform`), fetched by digest
//   2. the config and the layers, a few at a time, each verified by the store and resumed from its
//      `.partial` when an earlier attempt broke off
//   3. the manifest blob; its config checked and its layers unpacked (each verified against its diff_id,
//      within the caps of limits.ts), so an image `tslab run` would refuse is refused here; only then the tag
//
// So a failed pull leaves verified blobs and `.partial` files (which the next pull resumes), never a
// half-written blob and never a tag pointing at an image whose blobs are not all there.
import { hostPlatform, layerDirs, loadManifest } from './image.js';
import { formatPlatform, selectManifest, type Descriptor, type ImageManifest, type Platform } from './manifest.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import type { BlobProgress } from './registry-blob.js';
import { RegistryError } from './registry-error.js';
import { RegistryClient, type RegistryClientOptions } from './registry.js';
import { MAX_JSON_BLOB, type ImageStore } from './store.js';

export interface LayerProgress extends BlobProgress {
  /** `config` for the image config, `layer` for a layer. */
  kind: 'config' | 'layer';
  /** The layer's position in the manifest (0 for the config). */
  index: number;
}

export interface PullOptions extends RegistryClientOptions {
  store: ImageStore;
  /** The platform to pick from an index. Default: this machine's (linux/amd64 on x64). */
  platform?: Platform;
  /** Every change of a blob's progress: per layer, bytes done of total. */
  onProgress?: (p: LayerProgress) => void;
  /** One line about each step (resolved manifest, picked platform, tagged). */
  onMessage?: (line: string) => void;
  /** Blobs downloaded at once. Default 3. */
  concurrency?: number;
  /** Aborting stops the downloads; their `.partial` files stay for the next pull. */
  signal?: AbortSignal;
}

export interface PullResult {
  reference: ImageReference;
  /**
   * What the image can be named by locally: the tag `registry/repo:tag`, or for a pull by digest alone
   * (which the store does not tag) `registry/repo@<manifest digest>`.
   */
  name: string;
  /** Whether `name` was tagged in the store (false for a pull by digest alone). */
  tagged: boolean;
  /** The image manifest's digest (the one the tag points at). */
  digest: string;
  mediaType: string;
  /** The index's digest when the reference named an index, and the platform picked from it. */
  indexDigest?: string;
  platform?: Platform;
  manifest: ImageManifest;
  /** Bytes fetched from the registry for blobs this time (resumed partials and blobs already there not counted). */
  downloaded: number;
}

/** Runs `worker` over `items`, at most `limit` at a time; the first failure aborts the rest and is thrown. */
async function pool<T>(items: T[], limit: number, abort: AbortController, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const run = async () => {
    while (next < items.length && !failure) {
      const item = items[next++];
      try {
        await worker(item);
      } catch (error) {
        if (!failure) {
          failure = { error };
          abort.abort(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
  if (failure) throw failure.error;
}

/** Each distinct blob once: a manifest may list the same layer twice, and two writers must never share a .partial. */
function distinctBlobs(manifest: ImageManifest): Array<{ desc: Descriptor; kind: 'config' | 'layer'; index: number }> {
  const blobs: Array<{ desc: Descriptor; kind: 'config' | 'layer'; index: number }> = [];
  const seen = new Set<string>();
  for (const [i, desc] of [manifest.config, ...manifest.layers].entries()) {
    if (seen.has(desc.digest)) continue;
    seen.add(desc.digest);
    blobs.push({ desc, kind: i === 0 ? 'config' : 'layer', index: i === 0 ? 0 : i - 1 });
  }
  return blobs;
}

/** The stored image's name: tagged when the reference has a tag; a pull by digest is named by its digest only. */
function nameImage(store: ImageStore, reference: ImageReference, digest: string, onMessage: PullOptions['onMessage']): { name: string; tagged: boolean } {
  const repo = reference.repository;
  const shown = formatReference(reference);
  if (reference.tag) {
    const name = `${reference.registry}/${repo}:${reference.tag}`;
    store.tag(name, digest);
    onMessage?.(`${shown}: tagged ${name} -> ${digest}`);
    return { name, tagged: true };
  }
  const name = `${reference.registry}/${repo}@${digest}`;
  onMessage?.(`${shown}: stored as ${name} (a pull by digest is not tagged)`);
  return { name, tagged: false };
}

/** Pulls `ref` (`registry/repo[:tag][@digest]`) into `options.store` and tags it. */
export async function pull(ref: string | ImageReference, options: PullOptions): Promise<PullResult> {
  const reference = typeof ref === 'string' ? parseReference(ref) : ref;
  const { store, onProgress, onMessage } = options;
  const want = options.platform ?? hostPlatform();
  const repo = reference.repository;
  const shown = formatReference(reference);
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const client = new RegistryClient(reference.registry, options);
  try {
    const first = await client.getManifest(repo, reference.digest ?? reference.tag!, signal);
    let indexDigest: string | undefined;
    let platform: Platform | undefined;
    let fetched = first;
    if (first.kind === 'index') {
      indexDigest = first.digest;
      const chosen: Descriptor = selectManifest(first.index, want, shown);
      platform = chosen.platform;
      onMessage?.(`${shown}: index ${first.digest}, picked ${formatPlatform(chosen.platform!)} ${chosen.digest}`);
      fetched = await client.getManifest(repo, chosen.digest, signal);
      if (fetched.kind !== 'manifest') {
        throw new RegistryError(`${shown}: the index entry for ${formatPlatform(want)} is another index, which tslab does not follow`);
      }
      if (fetched.body.length !== chosen.size) {
        throw new RegistryError(`${shown}: manifest ${chosen.digest} is ${fetched.body.length} bytes, the index says ${chosen.size}`);
      }
    } else {
      onMessage?.(`${shown}: manifest ${first.digest}`);
    }
    if (fetched.kind !== 'manifest') throw new RegistryError(`${shown}: not an image manifest`);
    const manifest = fetched.manifest;
    if (manifest.config.size > MAX_JSON_BLOB) {
      throw new RegistryError(`${shown}: the image config is ${manifest.config.size} bytes, more than the ${MAX_JSON_BLOB} tslab accepts for one`);
    }

    const blobs = distinctBlobs(manifest);
    const received = new Map<string, number>();
    await pool(blobs, options.concurrency ?? 3, abort, async ({ desc, kind, index }) => {
      await client.pullBlob(store, repo, desc, {
        signal,
        onProgress: (p) => {
          received.set(p.digest, p.received);
          onProgress?.({ ...p, kind, index });
        },
      });
    });
    const downloaded = [...received.values()].reduce((a, b) => a + b, 0);

    // The image is complete: the index (so `name@<index digest>` resolves), the manifest, then the tag.
    if (first.kind === 'index') store.writeBlob(first.body, first.digest);
    store.writeBlob(fetched.body, fetched.digest);
    await layerDirs(store, loadManifest(store, fetched.digest, shown));
    const { name, tagged } = nameImage(store, reference, fetched.digest, onMessage);
    return {
      reference,
      name,
      tagged,
      digest: fetched.digest,
      mediaType: fetched.mediaType,
      ...(indexDigest ? { indexDigest } : {}),
      ...(platform ? { platform } : {}),
      manifest,
      downloaded,
    };
  } finally {
    client.close();
  }
}
