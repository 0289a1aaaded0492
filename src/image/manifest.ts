// OCI image manifests and indexes as a registry serves them: parsed and checked (descriptors with sha256
// digests and byte sizes), and the manifest of an index chosen for a platform.
import { isDigest } from './digest.js';
import { MEDIA_TYPE } from './media-types.js';
import { RegistryError } from './registry-error.js';

/** What a pull accepts for a manifest, best first. */
export const MANIFEST_ACCEPT = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest].join(', ');
/** A manifest larger than this is refused (the distribution spec suggests registries cap them at 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export type ParsedManifest = { kind: 'manifest'; mediaType: string; manifest: ImageManifest } | { kind: 'index'; mediaType: string; index: ImageIndex };

export type FetchedManifest = ParsedManifest & { digest: string; body: Buffer };

// --- platforms ---------------------------------------------------------------------------------------

/** `linux/arm64`, `linux/arm/v7`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Parses `os/arch[/variant]` (as `--platform` takes it). */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, ...rest] = text.split('/');
  if (!os || !architecture || rest.length || variant === '') {
    throw new RegistryError(`"${text}" is not a platform: write os/architecture[/variant], e.g. linux/arm64`);
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

function variantOf(p: Platform): string | undefined {
  // arm64 images mostly say nothing, sometimes v8: the same thing.
  if (p.architecture === 'arm64' && (!p.variant || p.variant === 'v8')) return undefined;
  return p.variant || undefined;
}

/**
 * The manifest of an index that runs on `want`: os and architecture equal, and the variant equal when
 * both say one (an exact variant wins). Throws, listing what the index has, when none fits.
 */
export function selectManifest(index: ImageIndex, want: Platform, name = 'the image'): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture,
  );
  const wantVariant = variantOf(want);
  const exact = candidates.find((m) => variantOf(m.platform!) === wantVariant);
  const loose = candidates.find((m) => !wantVariant || !variantOf(m.platform!));
  const chosen = exact ?? loose;
  if (chosen) return chosen;
  const available = index.manifests
    .map((m) => (m.platform ? formatPlatform(m.platform) : '(no platform)'))
    .filter((p) => p !== 'unknown/unknown');
  throw new RegistryError(
    `${name} has no ${formatPlatform(want)} image; it has ${available.length ? available.join(', ') : 'none'}` +
      ' (pick one with --platform)',
    undefined,
    'PLATFORM_UNAVAILABLE',
  );
}

// --- manifests ---------------------------------------------------------------------------------------

function checkDescriptor(d: unknown, where: string): Descriptor {
  const desc = d as Partial<Descriptor> | null;
  if (!desc || typeof desc !== 'object') throw new RegistryError(`${where}: not a descriptor`);
  if (typeof desc.digest !== 'string' || !isDigest(desc.digest)) {
    throw new RegistryError(
      `${where}: digest ${JSON.stringify(desc.digest)} is not supported (only sha256:<64 lowercase hex>)`,
      undefined,
      'DIGEST_INVALID',
    );
  }
  if (typeof desc.size !== 'number' || !Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new RegistryError(`${where}: size ${JSON.stringify(desc.size)} is not a byte count`);
  }
  if (typeof desc.mediaType !== 'string') throw new RegistryError(`${where}: no mediaType`);
  return desc as Descriptor;
}

/**
 * Parses a manifest body into an image manifest or an index, by the Content-Type the registry sent,
 * else its mediaType field, else its shape. Refuses schema 1 and anything else.
 */
export function parseManifest(body: Buffer, contentType?: string): ParsedManifest {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new RegistryError('the manifest is not JSON', undefined, 'MANIFEST_INVALID');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new RegistryError('the manifest is not a JSON object', undefined, 'MANIFEST_INVALID');
  const header = contentType?.split(';')[0].trim().toLowerCase();
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  let mediaType = declared ?? (header && header !== 'application/json' && header !== 'application/octet-stream' ? header : undefined);
  if (!mediaType) mediaType = Array.isArray(json.manifests) ? MEDIA_TYPE.ociIndex : MEDIA_TYPE.ociManifest;

  if (mediaType === MEDIA_TYPE.dockerSchema1 || mediaType === MEDIA_TYPE.dockerSchema1Signed || json.schemaVersion === 1) {
    throw new RegistryError('the registry serves this image as a Docker schema 1 manifest, which tslab does not pull (push it again with a current client)', undefined, 'MANIFEST_UNSUPPORTED');
  }
  if (json.schemaVersion !== 2) throw new RegistryError(`the manifest has schemaVersion ${JSON.stringify(json.schemaVersion)}, not 2`, undefined, 'MANIFEST_INVALID');

  if (mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.dockerManifestList) {
    if (!Array.isArray(json.manifests)) throw new RegistryError('the index has no manifests list', undefined, 'MANIFEST_INVALID');
    const manifests = json.manifests.map((m, i) => checkDescriptor(m, `index entry ${i}`));
    return { kind: 'index', mediaType, index: { ...(json as object), schemaVersion: 2, manifests } as ImageIndex };
  }
  if (mediaType === MEDIA_TYPE.ociManifest || mediaType === MEDIA_TYPE.dockerManifest) {
    const config = checkDescriptor(json.config, 'the manifest config');
    if (!Array.isArray(json.layers)) throw new RegistryError('the manifest has no layers list', undefined, 'MANIFEST_INVALID');
    const layers = json.layers.map((l, i) => checkDescriptor(l, `layer ${i}`));
    return { kind: 'manifest', mediaType, manifest: { ...(json as object), schemaVersion: 2, config, layers } as ImageManifest };
  }
  throw new RegistryError(`the manifest is of media type ${mediaType}, which is not an image manifest or index`, undefined, 'MANIFEST_UNSUPPORTED');
}
