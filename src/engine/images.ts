// `tslab rmi`: the engine's rule for removing images: an image a container was made from stays unless forced.
import type { ImageStore } from '../image/store.js';
import { EngineError } from './containers.js';
import { listRecords } from './record.js';

/**
 * Untags each of `refs` in turn (`untagged` is told after each), refusing one that a container uses unless
 * `force`; then deletes what no tag holds any more and returns the deleted digests. A refusal leaves the refs
 * before it untagged. Its errors exit 1, as every command's but `run` does (the engine's 125 is `run`'s).
 */
export function removeImages(store: ImageStore, refs: string[], force: boolean, untagged: (ref: string) => void): string[] {
  for (const ref of refs) {
    const digest = store.resolve(ref);
    if (!digest) throw new EngineError(`no such image: ${ref}`, 1);
    const users = listRecords().filter((r) => r.imageDigest === digest);
    if (users.length && !force) {
      throw new EngineError(`image ${ref} is used by container ${users.map((u) => u.name).join(', ')}: remove it first (tslab rm), or rmi -f`, 1);
    }
    store.untag(ref.includes(':') || ref.startsWith('sha256:') ? ref : `${ref}:latest`);
    untagged(ref);
  }
  return store.garbageCollect();
}
