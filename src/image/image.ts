// An image in the store: its manifest, config and layers, and the layers unpacked for overlayfs.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_LAYERS, checkImageConfig, type ImageConfig, type ImageConfigFile } from './config.js';
import { DigestMismatchError, digestFile, digestHex, isDigest, verifyDigest } from './digest.js';
import { layerLimits } from './limits.js';
import { isIndexMediaType, isManifestMediaType, layerCompression } from './media-types.js';
import { ImageStore, normalizeRef } from './store.js';

export type { ImageConfig } from './config.js';

export interface Image {
  /** The normalised ref it was loaded by (undefined when loaded by digest). */
  ref?: string;
  /** The image manifest (for a multi-platform image: this platform's manifest, not the index). */
  manifestDigest: string;
  manifest: object;
  /** When the ref named an index: the index's digest. */
  indexDigest?: string;
  configDigest: string;
  /** The config file, checked (config.ts): only the fields tslab reads, each of the right type and length. */
  config: ImageConfigFile;
  layers: Array<{ digest: string; mediaType: string; size: number }>;
}

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

const ARCHITECTURES: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** This machine as an OCI platform: os "linux", Node's process.arch mapped to GOARCH names. */
export function hostPlatform(): { os: string; architecture: string; variant?: string } {
  const architecture = ARCHITECTURES[process.arch] ?? process.arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') return { os: 'linux', architecture, variant: `v${(process.config.variables as { arm_version?: string }).arm_version ?? '7'}` };
  return { os: 'linux', architecture };
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

interface ManifestDoc {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/** From an index, the manifest for this platform (exact variant preferred) that is in the store. */
function pickPlatform(store: ImageStore, index: ManifestDoc, indexDigest: string, name: string): string {
  const host = hostPlatform();
  const candidates = (index.manifests ?? []).filter(
    (m) => isDigest(m.digest) && (m.mediaType === undefined || isManifestMediaType(m.mediaType)) &&
      m.platform?.os === host.os && m.platform?.architecture === host.architecture,
  );
  const sorted = [
    ...candidates.filter((m) => (m.platform?.variant ?? host.variant) === host.variant),
    ...candidates.filter((m) => (m.platform?.variant ?? host.variant) !== host.variant),
  ];
  const present = sorted.find((m) => store.hasBlob(m.digest as string));
  if (present) return present.digest as string;
  const platforms = (index.manifests ?? []).map((m) => [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/')).join(', ');
  if (sorted.length) throw new ImageError(`${name}: the manifest for ${host.os}/${host.architecture} (${sorted[0].digest}) is not in the store; pull or import the image again`);
  throw new ImageError(`${name} (index ${indexDigest}) has no image for ${host.os}/${host.architecture}; it has: ${platforms || 'none'}`);
}

/**
 * The image an image manifest in the store describes, its config checked (config.ts); `name` is for
 * messages. Used by loadImage, and by import and pull before they tag what they stored.
 */
export function loadManifest(store: ImageStore, manifestDigest: string, name: string): Omit<Image, 'ref' | 'indexDigest'> {
  const manifest = store.readJson<ManifestDoc>(manifestDigest);
  if (manifest === null || typeof manifest !== 'object' || manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) {
    throw new ImageError(`${name}: ${manifestDigest} is not an image manifest (schemaVersion 2 with config and layers)`);
  }
  if (manifest.layers.length > MAX_LAYERS) throw new ImageError(`${name}: the manifest lists ${manifest.layers.length} layers, more than the ${MAX_LAYERS} tslab accepts`);
  const configDigest = manifest.config.digest;
  if (!isDigest(configDigest)) throw new ImageError(`${name}: the manifest's config digest is missing or not sha256`);
  const config = checkImageConfig(store.readJson(configDigest), `${name}: the image config ${configDigest}`);
  const diffIds = config.rootfs.diff_ids;
  const layers = manifest.layers.map((layer, i) => {
    if (!isDigest(layer.digest)) throw new ImageError(`${name}: layer ${i} has no sha256 digest`);
    const mediaType = typeof layer.mediaType === 'string' ? layer.mediaType : '';
    if (!layerCompression(mediaType)) throw new ImageError(`${name}: layer ${i} (${layer.digest}) has the unsupported media type ${JSON.stringify(mediaType.slice(0, 100)) || '(none)'}`);
    const size = Number.isSafeInteger(layer.size) && (layer.size as number) >= 0 ? (layer.size as number) : 0;
    return { digest: layer.digest, mediaType, size };
  });
  if (layers.length !== diffIds.length) {
    throw new ImageError(`${name}: the manifest lists ${layers.length} layers but the config ${diffIds.length} diff_ids`);
  }
  return { manifestDigest, manifest, configDigest, config, layers };
}

/** Loads an image by ref, digest or digest prefix; every blob read is verified, its config checked. */
export function loadImage(store: ImageStore, ref: string): Image {
  const resolved = store.resolve(ref);
  if (!resolved) throw new ImageError(`no image ${ref}: tslab images lists them`);
  let manifestDigest = resolved;
  let indexDigest: string | undefined;
  const doc = store.readJson<ManifestDoc>(resolved);
  if (doc !== null && typeof doc === 'object' && (isIndexMediaType(doc.mediaType) || (doc.mediaType === undefined && Array.isArray(doc.manifests)))) {
    indexDigest = resolved;
    manifestDigest = pickPlatform(store, doc, resolved, ref);
  }
  const image = loadManifest(store, manifestDigest, ref);
  let name: string | undefined;
  if (!isDigest(ref.trim()) && !ref.includes('@')) {
    try {
      name = normalizeRef(ref);
    } catch {
      name = undefined;
    }
    if (name && store.list().every((r) => r.ref !== name)) name = undefined; // it was a digest prefix
  }
  return { ref: name, indexDigest, ...image };
}

const unpacking = new Map<string, Promise<string>>();

/** The diff_id recorded when the layer was unpacked; undefined if none was (a crash, or an older tslab). */
function recordedDiffId(store: ImageStore, digest: string): string | undefined {
  try {
    const text = fs.readFileSync(store.layerDiffIdPath(digest), 'utf8').trim();
    return isDigest(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

function recordDiffId(store: ImageStore, digest: string, diffId: string): void {
  const tmp = store.tempPath('diff_id');
  try {
    fs.writeFileSync(tmp, `${diffId}\n`, { mode: 0o600 });
    fs.renameSync(tmp, store.layerDiffIdPath(digest));
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * A layer unpacked before is reused only if its uncompressed tar had the diff_id this image's config
 * names: a config that lies about a layer it shares with another image is refused here too. A layer
 * unpacked without a record is checked once (its blob decompressed and hashed, nothing written).
 */
async function checkUnpackedLayer(store: ImageStore, layer: Image['layers'][number], diffId: string, what: string): Promise<void> {
  let recorded = recordedDiffId(store, layer.digest);
  if (recorded === undefined) {
    if (!store.hasBlob(layer.digest)) {
      throw new ImageError(`${what} is unpacked without a record of its diff_id and its blob is gone; pull or import the image again`);
    }
    const { streamTar, NullSink } = await import('./tar-stream.js');
    const { LayerFormatError } = await import('./unpack.js');
    const digests = await streamTar(store.blobPath(layer.digest), new NullSink(), {
      limits: layerLimits(),
      what,
      formatError: (message) => new LayerFormatError(message),
    });
    verifyDigest(digests.fileDigest, layer.digest, `${what} (its blob)`);
    recorded = digests.tarDigest;
    recordDiffId(store, layer.digest, recorded);
  }
  verifyDigest(recorded, diffId, `${what} (its uncompressed tar, as unpacked, against the config's diff_id)`);
}

async function unpackOnce(store: ImageStore, layer: Image['layers'][number], diffId: string, what: string): Promise<string> {
  const final = store.layerPath(layer.digest);
  if (fs.existsSync(final)) {
    await checkUnpackedLayer(store, layer, diffId, what);
    return final;
  }
  if (!store.hasBlob(layer.digest)) {
    throw new ImageError(`${what} is neither unpacked nor in the store; pull or import the image again`);
  }
  store.ensurePrivateRoot();
  const staging = path.join(path.dirname(final), `.staging-${digestHex(layer.digest)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(staging, { recursive: true });
  fs.chmodSync(staging, 0o755); // not the umask's; a "./" entry in the layer sets its own
  try {
    try {
      // The tar package loads only when a layer is unpacked, not at every run of an image already unpacked.
      const { unpackLayer } = await import('./unpack.js');
      await unpackLayer(store.blobPath(layer.digest), staging, { overlayWhiteouts: true, digest: layer.digest, diffId, what });
    } catch (err) {
      // A blob damaged on disk usually breaks the gzip stream before its digest can be compared: say so.
      if (!(err instanceof DigestMismatchError) && (await digestFile(store.blobPath(layer.digest))) !== layer.digest) {
        throw new DigestMismatchError(layer.digest, await digestFile(store.blobPath(layer.digest)), `${what} (its blob ${store.blobPath(layer.digest)})`);
      }
      throw err;
    }
    // The record first: a layer directory in place always has one (a crash in between leaves a record
    // without a directory, which the next unpack rewrites).
    recordDiffId(store, layer.digest, diffId);
    try {
      fs.renameSync(staging, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another process unpacked the same layer first: its copy is as good as ours.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return final;
}

/**
 * The image's layers unpacked, lowest first, ready as overlayfs lowerdirs (overlayfs wants them in the
 * opposite order: lowerdir=top:...:bottom). A layer is unpacked once, into <root>/layers/<hex>/, through a
 * staging directory renamed into place, so a crash never leaves half a layer; later calls (from any
 * process) reuse it once its recorded diff_id matches. Each blob is verified against its digest and its
 * uncompressed tar against the diff_id, in the one pass that unpacks it; a mismatch removes what it wrote.
 */
export async function layerDirs(store: ImageStore, image: Pick<Image, 'layers' | 'config' | 'manifestDigest'> & { ref?: string }): Promise<string[]> {
  const dirs: string[] = [];
  for (const [i, layer] of image.layers.entries()) {
    const key = store.layerPath(layer.digest);
    const what = `layer ${i} (${layer.digest}) of ${image.ref ?? image.manifestDigest}`;
    const diffId = image.config.rootfs.diff_ids[i];
    const pending = unpacking.get(key);
    if (pending) {
      // Another image of this process is unpacking the same blob: wait for it, then check our own diff_id.
      dirs.push(await pending);
      await checkUnpackedLayer(store, layer, diffId, what);
      continue;
    }
    const mine = unpackOnce(store, layer, diffId, what).finally(() => unpacking.delete(key));
    unpacking.set(key, mine);
    dirs.push(await mine);
  }
  return dirs;
}

/**
 * The process args Docker runs for an image: Entrypoint + Cmd, where `args` (when non-empty) replace Cmd,
 * and an `entrypoint` override replaces Entrypoint and drops the image's Cmd.
 */
export function imageCommand(config: ImageConfig | undefined, args: string[] = [], entrypoint?: string[]): string[] {
  const ep = entrypoint ?? config?.Entrypoint ?? [];
  const cmd = args.length ? args : entrypoint ? [] : (config?.Cmd ?? []);
  return [...ep, ...cmd];
}
