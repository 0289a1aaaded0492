// `tslab inspect NAME...`: the record of a container, or the manifest and config of an image, as JSON.
import { loadImage } from '../image/image.js';
import { ImageStore } from '../image/store.js';
import { findRecord, NoSuchContainerError } from './record.js';

export class NoSuchObjectError extends Error {}

export function inspectObjects(names: string[]): object[] {
  const store = new ImageStore();
  return names.map((name) => {
    try {
      return { Type: 'container', ...findRecord(name) };
    } catch (err) {
      if (!(err instanceof NoSuchContainerError)) throw err;
    }
    if (!store.resolve(name)) throw new NoSuchObjectError(`no such container or image: ${name}`);
    const image = loadImage(store, name);
    return { Type: 'image', Id: image.configDigest, RepoDigests: [image.manifestDigest], Manifest: image.manifest, Config: image.config };
  });
}
