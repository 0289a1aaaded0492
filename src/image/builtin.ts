// The built-in default image, `busybox:latest`: the host's static busybox with its applet links and a
// minimal /etc (the same tree src/fs/busybox-rootfs.ts builds), made locally with no network into a
// proper OCI image: one gzip tar layer, a config (Cmd ["sh"], PATH, os linux, this machine's
// architecture) and a manifest. The layer is written deterministically (sorted entries, owner 0:0,
// every mtime the host busybox's), so the same busybox always gives the same digests.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { buildBusyboxRootfs } from '../fs/busybox-rootfs.js';
import { sha256Digest } from './digest.js';
import { hostPlatform } from './image.js';
import { MEDIA_TYPE } from './media-types.js';
import { ImageStore } from './store.js';
import type { TarFile } from './tar-writer.js';

const BUILTIN_REF = 'busybox:latest';
const BUILTIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox'];

function treeEntries(dir: string, mtime: Date): TarFile[] {
  const entries: TarFile[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, childRel);
      const st = fs.lstatSync(full);
      if (st.isSymbolicLink()) entries.push({ path: childRel, type: 'SymbolicLink', mode: 0o777, mtime, linkpath: fs.readlinkSync(full) });
      else if (st.isDirectory()) {
        entries.push({ path: childRel, type: 'Directory', mode: st.mode, mtime });
        walk(childRel);
      } else if (st.isFile()) entries.push({ path: childRel, type: 'File', mode: st.mode, mtime, data: fs.readFileSync(full) });
    }
  };
  walk('');
  return entries;
}

function hostBusyboxMtime(): Date {
  for (const candidate of BUSYBOX_CANDIDATES) {
    try {
      return new Date(Math.floor(fs.statSync(candidate).mtimeMs / 1000) * 1000);
    } catch {
      /* next */
    }
  }
  return new Date(0);
}

/** Builds the image from the host's busybox and tags it busybox:latest (replacing that tag); returns the manifest digest. */
export async function buildBuiltinImage(store: ImageStore): Promise<string> {
  // The tar package loads only when the image is built: `tslab run` of an existing image does not pay for it.
  const { writeTar } = await import('./tar-writer.js');
  const work = store.tempPath('builtin');
  const rootfs = path.join(work, 'rootfs');
  try {
    buildBusyboxRootfs(rootfs); // throws RootfsError with the install hint when there is no static busybox
    const mtime = hostBusyboxMtime();
    const layerTar = writeTar(treeEntries(rootfs, mtime));
    const diffId = sha256Digest(layerTar);
    const layer = zlib.gzipSync(layerTar, { level: 9 });
    const layerDigest = store.writeBlob(layer);
    const platform = hostPlatform();
    const config = {
      created: mtime.toISOString(),
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      os: platform.os,
      config: { Env: [`PATH=${BUILTIN_PATH}`], Cmd: ['sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: mtime.toISOString(), created_by: 'tslab: the host static busybox, its applet links and a minimal /etc' }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = store.writeBlob(configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: configDigest, size: configBytes.length },
      layers: [{ mediaType: MEDIA_TYPE.ociLayerGzip, digest: layerDigest, size: layer.length }],
      annotations: { 'org.opencontainers.image.ref.name': 'latest', 'org.opencontainers.image.title': 'tslab built-in busybox' },
    };
    const manifestDigest = store.writeBlob(Buffer.from(JSON.stringify(manifest)));
    store.tag(BUILTIN_REF, manifestDigest);
    return manifestDigest;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The digest of busybox:latest, building the built-in image first when the tag is missing or its
 * manifest is gone. Cheap when it exists (a refs.json read and a stat).
 */
export async function ensureBuiltinImage(store: ImageStore): Promise<string> {
  const existing = store.resolve(BUILTIN_REF);
  if (existing && store.hasBlob(existing)) return existing;
  return buildBuiltinImage(store);
}
