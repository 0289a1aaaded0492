// Builders for the hostile image corpus: tar archives written header by header (so they hold exactly the
// entries a case wants: `..`, absolute paths, links out, devices, whiteouts, sizes that lie), and the two
// archive formats `tslab import` reads, an OCI image layout (a directory, or a tar of one) and a
// `docker save` tar, around whatever layer and config bytes a case gives.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Header, Pax } from 'tar';

export type EntryType = 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';

export interface RawEntry {
  path: string;
  type?: EntryType;
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkpath?: string;
  devmaj?: number;
  devmin?: number;
  /** The size the header claims, when it should not be the data's. */
  headerSize?: number;
}

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const MTIME = new Date('2020-01-02T03:04:05Z');
const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

/** A tar of exactly these entries, in this order; `end: false` leaves out the two zero blocks. */
export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'File';
    const data = Buffer.from(e.data ?? '');
    const fields = {
      path: e.path,
      type,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      size: e.headerSize ?? (type === 'File' ? data.length : 0),
      mtime: MTIME,
      linkpath: e.linkpath,
      devmaj: e.devmaj ?? 0,
      devmin: e.devmin ?? 0,
      uname: '',
      gname: '',
    };
    const header = new Header(fields);
    header.encode();
    if (header.needPax) {
      out.push(new Pax({ path: fields.path, linkpath: fields.linkpath, size: fields.size, mtime: MTIME }).encode());
      header.encode();
    }
    out.push(header.block as Buffer);
    if (data.length) out.push(data, pad(data.length));
  }
  if (opts.end !== false) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

export interface LayoutSpec {
  /** Each layer as stored (plain or compressed) with its media type and the diff_id the config names. */
  layers: Array<{ blob: Buffer; mediaType?: string; diffId: string }>;
  /** The config's "config" (Entrypoint, Env, ...). */
  config?: unknown;
  /** The whole config file's bytes, instead of one made from `layers` and `config`. */
  configBytes?: Buffer;
  /** The ref name annotation (a bare tag). */
  tag?: string;
  /** Layer sizes the manifest claims, instead of the blobs' own. */
  layerSizes?: number[];
}

export interface Layout {
  dir: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

/** An OCI image layout directory at `dir` (which must not exist). */
export function ociLayout(dir: string, spec: LayoutSpec): Layout {
  fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
  const put = (data: Buffer) => {
    const digest = sha256(data);
    fs.writeFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layers = spec.layers.map((l, i) => {
    const stored = put(l.blob);
    return { mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip', digest: stored.digest, size: spec.layerSizes?.[i] ?? stored.size };
  });
  const configBytes =
    spec.configBytes ??
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: spec.config ?? { Cmd: ['/bin/busybox', 'true'] }, rootfs: { type: 'layers', diff_ids: spec.layers.map((l) => l.diffId) } }));
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(configBytes) };
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })));
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': spec.tag ?? 'latest' } }],
    }),
  );
  return { dir, manifestDigest: manifest.digest, configDigest: config.digest, layerDigests: layers.map((l) => l.digest) };
}

/** Every file of `dir` (links kept as links) as tar entries, parents first. */
export function entriesOf(dir: string, rel = ''): RawEntry[] {
  const out: RawEntry[] = [];
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = fs.lstatSync(path.join(dir, r));
    if (st.isDirectory()) out.push({ path: `${r}/`, type: 'Directory' }, ...entriesOf(dir, r));
    else if (st.isSymbolicLink()) out.push({ path: r, type: 'SymbolicLink', linkpath: fs.readlinkSync(path.join(dir, r)) });
    else out.push({ path: r, data: fs.readFileSync(path.join(dir, r)) });
  }
  return out;
}

/** A legacy `docker save` archive: <config hex>.json, <id>/layer.tar, manifest.json; `extra` entries first. */
export function dockerSave(layers: Buffer[], config: unknown, repoTag: string, extra: RawEntry[] = []): Buffer {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) } }));
  const configName = `${sha256(configBytes).slice(7)}.json`;
  const ids = layers.map((l) => sha256(`id of ${sha256(l)}`).slice(7));
  return rawTar([
    ...extra,
    { path: configName, data: configBytes },
    ...layers.flatMap((l, i) => [{ path: `${ids[i]}/`, type: 'Directory' as const }, { path: `${ids[i]}/layer.tar`, data: l }]),
    { path: 'manifest.json', data: JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: ids.map((id) => `${id}/layer.tar`) }]) },
  ]);
}
