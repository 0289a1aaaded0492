// `tslab import`: images from an OCI image layout (a directory, or a tar of one) or a `docker save`
// archive (the legacy format with manifest.json + repositories + <id>/layer.tar, and Docker 25's, which
// is also an OCI layout). Every blob is verified on its way into the store.
//
// A tar is first extracted into the store's tmp dir: only regular files are written there (by the tar
// package, which refuses '..' and absolute names; with symlink entries not created, nothing can lead a
// write outside), symlinks and hardlinks are remembered as aliases (docker save links shared layer.tars).
// The extracted blobs are then moved into the store by rename, not copied.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import { DigestMismatchError, digestHex, isDigest } from './digest.js';
import { MEDIA_TYPE, OCI_LAYOUT_VERSION, isIndexMediaType, isManifestMediaType, layerMediaType, sniffCompression } from './media-types.js';
import { ImageStore, normalizeRef } from './store.js';

export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}

const MAX_JSON = 32 * 1024 * 1024;

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
}

interface Source {
  /** Directory the archive's paths are relative to. */
  dir: string;
  /** Archive-relative path -> archive-relative path it links to (from a tar's link entries). */
  aliases: Map<string, string>;
  /** Files may be moved into the store (they are our own extraction). */
  move: boolean;
  /** Shown in messages. */
  label: string;
  /** Repository name for images the archive does not name (from the file name). */
  fallbackRepo: string;
  /** Files already stored (archive-relative path -> digest): a moved file is gone from the extraction. */
  stored: Map<string, string>;
}

function cleanRelative(p: string, what: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (p.startsWith('/') || parts.includes('..') || parts.length === 0) {
    throw new ImportError(`${what} ${JSON.stringify(p)} is not a path inside the archive`);
  }
  return parts.join('/');
}

function resolveAlias(src: Source, rel: string): string {
  let current = rel;
  for (let i = 0; i < 16 && src.aliases.has(current); i++) current = src.aliases.get(current) as string;
  return current;
}

function fileIn(src: Source, rel: string, what: string): string {
  const clean = resolveAlias(src, cleanRelative(rel, what));
  const full = path.join(src.dir, clean);
  let st: fs.Stats;
  try {
    st = fs.statSync(full);
  } catch {
    throw new ImportError(`${src.label}: ${what} ${clean} is missing from the archive`);
  }
  if (!st.isFile()) throw new ImportError(`${src.label}: ${what} ${clean} is not a regular file`);
  return full;
}

function readJsonFile<T>(src: Source, rel: string, what: string): T {
  const file = fileIn(src, rel, what);
  if (fs.statSync(file).size > MAX_JSON) throw new ImportError(`${src.label}: ${rel} is too large to be ${what}`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new ImportError(`${src.label}: ${rel} is not valid JSON: ${(err as Error).message}`);
  }
}

function exists(src: Source, rel: string): boolean {
  const full = path.join(src.dir, resolveAlias(src, rel));
  return fs.existsSync(full) && fs.statSync(full).isFile();
}

/** Moves or copies the blob at `rel` into the store; verifies `expected` (and `size`) when given. */
async function storeFile(store: ImageStore, src: Source, rel: string, what: string, expected?: string, size?: number): Promise<string> {
  const key = resolveAlias(src, cleanRelative(rel, what));
  const done = src.stored.get(key);
  if (done !== undefined) {
    if (expected !== undefined && done !== expected) throw new DigestMismatchError(expected, done, `${src.label}: ${what} ${rel}`);
    return done;
  }
  const file = fileIn(src, rel, what);
  if (size !== undefined && fs.statSync(file).size !== size) {
    throw new ImportError(`${src.label}: ${what} ${rel} has ${fs.statSync(file).size} bytes, its descriptor says ${size}`);
  }
  const digest = await store.importFile(file, { expected, move: src.move });
  src.stored.set(key, digest);
  return digest;
}

async function storeDescriptor(store: ImageStore, src: Source, d: Descriptor, what: string): Promise<string> {
  if (!isDigest(d.digest)) throw new ImportError(`${src.label}: ${what} has no sha256 digest (${JSON.stringify(d.digest)})`);
  return storeFile(store, src, `blobs/sha256/${digestHex(d.digest)}`, what, d.digest, d.size);
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
  const layout = readJsonFile<{ imageLayoutVersion?: string }>(src, 'oci-layout', 'the oci-layout file');
  if (layout.imageLayoutVersion !== OCI_LAYOUT_VERSION) {
    throw new ImportError(`${src.label}: unsupported OCI layout version ${JSON.stringify(layout.imageLayoutVersion)} (tslab reads ${OCI_LAYOUT_VERSION})`);
  }
  const index = readJsonFile<{ manifests?: Descriptor[] }>(src, 'index.json', 'the layout index');
  const images = (index.manifests ?? []).filter((d) => isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType));
  if (!images.length) throw new ImportError(`${src.label}: index.json lists no images`);

  const copyTree = async (d: Descriptor, what: string, depth: number): Promise<void> => {
    const digest = await storeDescriptor(store, src, d, what);
    const doc = store.readJson<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(digest);
    if (isIndexMediaType(d.mediaType) || isIndexMediaType(doc.mediaType)) {
      if (depth > 4) throw new ImportError(`${src.label}: indexes nested too deep`);
      let copied = 0;
      for (const child of doc.manifests ?? []) {
        // A layout may hold only some platforms of an index: copy those that are there.
        if (!isDigest(child.digest) || !exists(src, `blobs/sha256/${digestHex(child.digest)}`)) continue;
        if (!isIndexMediaType(child.mediaType) && !isManifestMediaType(child.mediaType)) continue;
        await copyTree(child, `manifest ${child.digest}`, depth + 1);
        copied++;
      }
      if (!copied) throw new ImportError(`${src.label}: index ${digest} has none of its manifests in the layout`);
      return;
    }
    if (!doc.config || !Array.isArray(doc.layers)) throw new ImportError(`${src.label}: ${digest} is not an image manifest`);
    await storeDescriptor(store, src, doc.config, `config of ${digest}`);
    for (const [i, layer] of doc.layers.entries()) await storeDescriptor(store, src, layer, `layer ${i} of ${digest}`);
  };

  const tagged: string[] = [];
  for (const d of images) {
    await copyTree(d, 'image manifest', 0);
    const a = d.annotations ?? {};
    const named = [a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name']].filter((n): n is string => Boolean(n));
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
  const items = readJsonFile<DockerManifestItem[]>(src, 'manifest.json', 'the docker manifest');
  if (!Array.isArray(items) || !items.length) throw new ImportError(`${src.label}: manifest.json lists no images`);
  const tagged: string[] = [];
  for (const item of items) {
    if (!item.Config || !Array.isArray(item.Layers)) throw new ImportError(`${src.label}: a manifest.json entry lacks Config or Layers`);
    // The config's name carries its digest: "<hex>.json" (legacy) or "blobs/sha256/<hex>" (Docker 25).
    const hex = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(item.Config)?.[1];
    const configDigest = await storeFile(store, src, item.Config, 'image config', hex ? `sha256:${hex}` : undefined);
    const config = store.readJson<{ rootfs?: { diff_ids?: string[] } }>(configDigest);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== item.Layers.length) {
      throw new ImportError(`${src.label}: ${item.Config} lists ${diffIds.length} diff_ids but manifest.json ${item.Layers.length} layers`);
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
        throw new DigestMismatchError(diffIds[i], digest, `${src.label}: layer ${rel} (the config's diff_id ${i})`);
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
    const repoTags = (item.RepoTags ?? []).filter((t) => typeof t === 'string' && t && t !== '<none>:<none>');
    for (const ref of refsFor(src, name, items.length, repoTags)) {
      store.tag(ref, manifestDigest);
      tagged.push(normalizeRef(ref));
    }
  }
  if (!tagged.length) throw new ImportError(`${src.label}: none of its ${items.length} images is named; give a name to import them by`);
  return [...new Set(tagged)];
}

async function importFromDir(store: ImageStore, src: Source, name?: string): Promise<string[]> {
  if (exists(src, 'oci-layout') && exists(src, 'index.json')) return importOciLayout(store, src, name);
  if (exists(src, 'manifest.json')) return importDockerSave(store, src, name);
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
  const dir = store.tempPath('import');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const aliases = new Map<string, string>();
  let refused: Error | undefined;
  try {
    try {
      await tar.x({
        file,
        cwd: dir,
        strict: true,
        preserveOwner: false,
        noMtime: true,
        filter: (p, entry) => {
          const e = entry as tar.ReadEntry;
          if (e.type === 'SymbolicLink' || e.type === 'Link') {
            try {
              const from = cleanRelative(p, 'archive entry');
              const linkpath = e.linkpath ?? '';
              // A symlink is relative to its directory, a hardlink to the archive's root.
              const to = e.type === 'Link' ? linkpath : path.posix.join(path.posix.dirname(from), linkpath);
              aliases.set(from, cleanRelative(path.posix.normalize(to), `link ${p} ->`));
            } catch (err) {
              refused ??= err as Error;
            }
            return false;
          }
          return e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile';
        },
      });
    } catch (err) {
      throw new ImportError(`${file}: not a readable tar archive: ${(err as Error).message}`);
    }
    if (refused) throw refused;
    const src: Source = { dir, aliases, move: true, label, fallbackRepo: fallbackRepo(file), stored: new Map() };
    return await importFromDir(store, src, name);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
