// The media types of OCI and Docker v2 image documents and layers that tslab understands.
export const OCI_LAYOUT_VERSION = '1.0.0';

export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  /** Docker's schema 1 manifests: recognised only to refuse them with a sentence. */
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

const INDEX_TYPES = new Set<string>([MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest]);

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const LAYER_TYPES = new Map<string, LayerCompression>([
  [MEDIA_TYPE.ociLayer, 'none'],
  [MEDIA_TYPE.ociLayerGzip, 'gzip'],
  [MEDIA_TYPE.ociLayerZstd, 'zstd'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
  [MEDIA_TYPE.dockerLayerGzip, 'gzip'],
  [MEDIA_TYPE.dockerForeignLayerGzip, 'gzip'],
  // `docker save` writes its layers as plain tars; some tools label them with the Docker type anyway.
  ['application/vnd.docker.image.rootfs.diff.tar', 'none'],
]);

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.has(mediaType);
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && MANIFEST_TYPES.has(mediaType);
}

/** How a layer of this media type is compressed, or undefined for a type tslab cannot unpack (e.g. encrypted). */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_TYPES.get(mediaType);
}

/** The media type for a layer blob of the given compression (OCI names). */
export function layerMediaType(compression: LayerCompression): string {
  return compression === 'gzip' ? MEDIA_TYPE.ociLayerGzip : compression === 'zstd' ? MEDIA_TYPE.ociLayerZstd : MEDIA_TYPE.ociLayer;
}

/** Compression of a blob from its first bytes (gzip 1f 8b, zstd 28 b5 2f fd), else 'none'. */
export function sniffCompression(head: Uint8Array): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}
