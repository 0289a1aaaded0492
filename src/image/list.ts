// What `tslab images` lists: every tagged image, each loaded on its own. An image stored by an older tslab
// may be refused by today's checks (its config, a damaged or missing blob): it is listed with the reason,
// and the others are listed as usual.
import { loadImage } from './image.js';
import type { ImageStore } from './store.js';

export type ImageSummary =
  | { ref: string; digest: string; id: string; size: number }
  | { ref: string; digest: string; error: string };

const MAX_REASON = 200;

/**
 * The reason an image cannot be loaded, short enough for a table row: without the ref every message
 * starts with, digests (and blob paths) cut to 12 hex digits (as image ids are shown), and at most MAX_REASON characters.
 */
export function shortReason(ref: string, err: unknown): string {
  let reason = err instanceof Error ? err.message : String(err);
  if (reason.startsWith(`${ref}: `)) reason = reason.slice(ref.length + 2);
  reason = reason.replace(/\b([0-9a-f]{12})[0-9a-f]{52}\b/g, '$1');
  return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 3)}...` : reason;
}

/** Every tagged image in `store`, sorted by ref; one that cannot be loaded carries `error` instead of id and size. */
export function listImages(store: ImageStore): ImageSummary[] {
  return store.list().map(({ ref, digest }) => {
    try {
      const image = loadImage(store, ref);
      return { ref, digest, id: image.configDigest, size: image.layers.reduce((sum, l) => sum + l.size, 0) };
    } catch (err) {
      return { ref, digest, error: shortReason(ref, err) };
    }
  });
}
