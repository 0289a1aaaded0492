// `tslab import`: images from an OCI image layout (a directory, or a tar of one) or a `docker save`
// archive (the legacy format with manifest.json + repositories + <id>/layer.tar, and Docker 25's, which
// is also an OCI layout). Every blob is verified on its way into the store; how the archive's files are
// read without trusting it is import-source.ts's job. Before an image is tagged, its config is checked
// (config.ts) and its layers are unpacked (image.ts layerDirs), which verifies each against its diff_id
// within the caps: an image that would be refused at `tslab run` is refused here, and never tagged.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DigestMismatchError, digestHex, isDigest } from './digest.js';
import { layerDirs, loadManifest } from './image.js';
import { ImportError, existsIn, extractArchive, keyOf, openIn, readJsonIn, type Source } from './import-source.js';
import { MEDIA_TYPE, OCI_LAYOUT_VERSION, isIndexMediaType, isManifestMediaType, layerMediaType, sniffCompression } from './media-types.js';
import { fileKind } from '../linux/resolve.js';
import { UnsafeFileError, openRegularFile } from '../fs/regular-file.js';
import { shown } from './unpack.js';
import { ImageStore, normalizeRef } from './store.js';

export { ImportError } from './import-source.js';

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
}

/** Moves or copies the blob at `rel` into the store; verifies `expected` (and `size`) when given. */
async function storeFile(store: ImageStore, src: Source, rel: string, what: string, expected?: string, size?: number): Promise<string> {
  const key = keyOf(src, rel, what);
  const done = src.stored.get(key);
  if (done !== undefined) {
    if (expected !== undefined && done !== expected) throw new DigestMismatchError(expected, done, `${src.label}: ${what} ${rel}`);
    return done;
  }
  const file = openIn(src, rel, what);
  let digest: string;
  try {
    if (size !== undefined && file.size !== size) {
      throw new ImportError(`${src.label}: ${what} ${key} has ${file.size} bytes, its descriptor says ${size}`);
    }
    // Our own extraction is moved (checked above to be a regular file, in a directory only we write);
    // anything else is copied from the fd just opened, so what is stored is what was checked.
    digest = src.move
      ? await store.importFile(path.join(src.dir, key), { expected, move: true })
      : await store.importFile({ fd: file.fd, label: `${src.label}: ${what} ${key}` }, { expected });
  } finally {
    fs.closeSync(file.fd);
  }
  src.stored.set(key, digest);
  return digest;
}

async function storeDescriptor(store: ImageStore, src: Source, d: Descriptor, what: string): Promise<string> {
  if (d === null || typeof d !== 'object' || !isDigest(d.digest)) {
    throw new ImportError(`${src.label}: ${what} has no sha256 digest (${JSON.stringify(d?.digest ?? null).slice(0, 100)})`);
  }
  if (d.size !== undefined && !(Number.isSafeInteger(d.size) && d.size >= 0)) throw new ImportError(`${src.label}: ${what} has the size ${JSON.stringify(d.size).slice(0, 40)}, not a byte count`);
  return storeFile(store, src, `blobs/sha256/${digestHex(d.digest)}`, what, d.digest, d.size);
}

/** Checks the config and unpacks the layers of a manifest just stored (see the top of the file). */
async function prepareManifest(store: ImageStore, src: Source, manifestDigest: string): Promise<void> {
  await layerDirs(store, loadManifest(store, manifestDigest, `${src.label}: image ${manifestDigest}`));
}

function isPlainTag(s: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(s);
}

function repoOf(name: string): string {
  const n = normalizeRef(name);
  const colon = n.lastIndexOf(':');
  return colon > n.lastIndexOf('/') ? n.slice(0, colon) : n;
}

/** The refs to tag the i-th of `count` images with. */
function refsFor(src: Source, name: string | undefined, count: number, named: string[]): string[] {
  if (name !== undefined) {
    if (count === 1) return [name];
    const tags = named.filter(isPlainTag);
    if (tags.length) return tags.map((t) => `${repoOf(name)}:${t}`);
    throw new ImportError(`${src.label} holds ${count} images; a name can only be given to an archive of one (or to images with ref.name tags)`);
  }
  const refs = named.map((n) => (isPlainTag(n) ? `${src.fallbackRepo}:${n}` : n));
  if (refs.length) return refs;
  if (count === 1) return [`${src.fallbackRepo}:latest`];
  return [];
}

// ---- OCI image layout ----

async function importOciLayout(store: ImageStore, src: Source, name?: string): Promise<string[]> {
  const layout = readJsonIn<{ imageLayoutVersion?: string }>(src, 'oci-layout', 'the oci-layout file');
  if (layout?.imageLayoutVersion !== OCI_LAYOUT_VERSION) {
    throw new ImportError(`${src.label}: unsupported OCI layout version ${JSON.stringify(layout?.imageLayoutVersion ?? null).slice(0, 40)} (tslab reads ${OCI_LAYOUT_VERSION})`);
  }
  const index = readJsonIn<{ manifests?: Descriptor[] }>(src, 'index.json', 'the layout index');
  if (!Array.isArray(index?.manifests)) throw new ImportError(`${src.label}: index.json has no list of manifests`);
  const images = index.manifests.filter((d) => d !== null && typeof d === 'object' && (isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType)));
  if (!images.length) throw new ImportError(`${src.label}: index.json lists no images`);

  const copyTree = async (d: Descriptor, what: string, depth: number): Promise<void> => {
    const digest = await storeDescriptor(store, src, d, what);
    const doc = store.readJson<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(digest);
    if (isIndexMediaType(d.mediaType) || isIndexMediaType(doc.mediaType)) {
      if (depth > 4) throw new ImportError(`${src.label}: indexes nested too deep`);
      let copied = 0;
      for (const child of Array.isArray(doc.manifests) ? doc.manifests : []) {
        // A layout may hold only some platforms of an index: copy those that are there.
        if (child === null || typeof child !== 'object' || !isDigest(child.digest) || !existsIn(src, `blobs/sha256/${digestHex(child.digest)}`)) continue;
        if (!isIndexMediaType(child.mediaType) && !isManifestMediaType(child.mediaType)) continue;
        await copyTree(child, `manifest ${child.digest}`, depth + 1);
        copied++;
      }
      if (!copied) throw new ImportError(`${src.label}: index ${digest} has none of its manifests in the layout`);
      return;
    }
    if (doc === null || typeof doc !== 'object' || !doc.config || !Array.isArray(doc.layers)) throw new ImportError(`${src.label}: ${digest} is not an image manifest`);
    await storeDescriptor(store, src, doc.config, `config of ${digest}`);
    for (const [i, layer] of doc.layers.entries()) await storeDescriptor(store, src, layer, `layer ${i} of ${digest}`);
    await prepareManifest(store, src, digest);
  };

  const tagged: string[] = [];
  for (const d of images) {
    await copyTree(d, 'image manifest', 0);
    const a = d.annotations ?? {};
    const named = [a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name']].filter((n): n is string => typeof n === 'string' && n !== '');
    for (const ref of refsFor(src, name, images.length, named)) {
      store.tag(ref, d.digest as string);
      tagged.push(normalizeRef(ref));
    }
  }
  if (!tagged.length) throw new ImportError(`${src.label}: none of its ${images.length} images is named; give a name to import them by`);
  return [...new Set(tagged)];
}

// ---- docker save ----

interface DockerManifestItem {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

async function importDockerSave(store: ImageStore, src: Source, name?: string): Promise<string[]> {
  const items = readJsonIn<DockerManifestItem[]>(src, 'manifest.json', 'the docker manifest');
  if (!Array.isArray(items) || !items.length) throw new ImportError(`${src.label}: manifest.json lists no images`);
  const tagged: string[] = [];
  for (const item of items) {
    if (item === null || typeof item !== 'object' || typeof item.Config !== 'string' || !Array.isArray(item.Layers) || !item.Layers.every((l) => typeof l === 'string')) {
      throw new ImportError(`${src.label}: a manifest.json entry lacks Config or Layers (file names)`);
    }
    // The config's name carries its digest: "<hex>.json" (legacy) or "blobs/sha256/<hex>" (Docker 25).
    const hex = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(item.Config)?.[1];
    const configDigest = await storeFile(store, src, item.Config, 'image config', hex ? `sha256:${hex}` : undefined);
    const config = store.readJson<{ rootfs?: { diff_ids?: string[] } } | null>(configDigest);
    const diffIds = Array.isArray(config?.rootfs?.diff_ids) ? config.rootfs.diff_ids : [];
    if (diffIds.length !== item.Layers.length) {
      throw new ImportError(`${src.label}: ${shown(item.Config)} lists ${diffIds.length} diff_ids but manifest.json ${item.Layers.length} layers`);
    }
    const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
    for (const [i, rel] of item.Layers.entries()) {
      const digest = await storeFile(store, src, rel, `layer ${i}`);
      const blob = store.blobPath(digest);
      const head = Buffer.alloc(4);
      const fd = fs.openSync(blob, 'r');
      let n: number;
      try {
        n = fs.readSync(fd, head, 0, 4, 0);
      } finally {
        fs.closeSync(fd);
      }
      const compression = sniffCompression(head.subarray(0, n));
      const size = fs.statSync(blob).size;
      // A plain layer's digest is its diff_id; a compressed one's diff_id is checked when it is unpacked.
      if (compression === 'none' && digest !== diffIds[i]) {
        throw new DigestMismatchError(String(diffIds[i]).slice(0, 80), digest, `${src.label}: layer ${shown(rel)} (the config's diff_id ${i})`);
      }
      layers.push({ mediaType: layerMediaType(compression), digest, size });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: configDigest, size: store.blobSize(configDigest) },
      layers,
    };
    const manifestDigest = store.writeBlob(Buffer.from(JSON.stringify(manifest)));
    await prepareManifest(store, src, manifestDigest);
    const repoTags = (Array.isArray(item.RepoTags) ? item.RepoTags : []).filter((t) => typeof t === 'string' && t && t !== '<none>:<none>');
    for (const ref of refsFor(src, name, items.length, repoTags)) {
      store.tag(ref, manifestDigest);
      tagged.push(normalizeRef(ref));
    }
  }
  if (!tagged.length) throw new ImportError(`${src.label}: none of its ${items.length} images is named; give a name to import them by`);
  return [...new Set(tagged)];
}

async function importFromDir(store: ImageStore, src: Source, name?: string): Promise<string[]> {
  if (existsIn(src, 'oci-layout') && existsIn(src, 'index.json')) return importOciLayout(store, src, name);
  if (existsIn(src, 'manifest.json')) return importDockerSave(store, src, name);
  throw new ImportError(`${src.label} is neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)`);
}

function fallbackRepo(file: string): string {
  const base = path.basename(file).replace(/(\.tar)?(\.gz|\.tgz)?$/, '').replace(/\.(oci|docker)$/, '').toLowerCase();
  const clean = base.replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[._-]+$/g, '');
  return clean || 'imported';
}

/**
 * Imports the image(s) in `file`: an OCI image layout directory, a tar (or .tar.gz) of one, or a
 * `docker save` archive (tar or extracted directory). `name` tags the image (the archive must hold one,
 * or name them by plain ref.name tags); without it the archive's own names are used (RepoTags,
 * io.containerd.image.name, org.opencontainers.image.ref.name: a bare tag there gets the file's base
 * name as repository). Returns the refs tagged, normalised.
 */
export async function importArchive(store: ImageStore, file: string, name?: string): Promise<string[]> {
  if (name !== undefined) normalizeRef(name);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new ImportError(`${file}: no such file or directory`);
  }
  const label = file;
  if (st.isDirectory()) {
    const src: Source = { dir: path.resolve(file), aliases: new Map(), move: false, label, fallbackRepo: fallbackRepo(file), stored: new Map() };
    return importFromDir(store, src, name);
  }
  let archive: { fd: number };
  try {
    archive = openRegularFile(file, file);
  } catch (err) {
    if (err instanceof UnsafeFileError) {
      throw new ImportError(`${file} is ${fileKind(st)}: tslab imports an OCI image layout (a directory or a tar) or a docker save archive`);
    }
    throw err;
  }
  const dir = store.tempPath('import');
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    const aliases = await extractArchive(archive.fd, dir, label);
    const src: Source = { dir, aliases, move: true, label, fallbackRepo: fallbackRepo(file), stored: new Map() };
    return await importFromDir(store, src, name);
  } finally {
    fs.closeSync(archive.fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
