// Writing a tar archive entry by entry, deterministically (for the built-in image's layer).
// By hand around the tar package's own Header and Pax encoders: its create() packs files as readdir and
// stat give them, and a layer that hashes the same on every build needs our order, owners and mtime.
import { Header, Pax } from 'tar';

export interface TarFile {
  path: string;
  type: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
  mode: number;
  uid?: number;
  gid?: number;
  mtime: Date;
  linkpath?: string;
  data?: Buffer;
}

function block(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return pad ? Buffer.concat([data, Buffer.alloc(pad)]) : data;
}

/** A ustar archive (PAX headers where a field does not fit) of exactly these entries, in this order. */
export function writeTar(entries: TarFile[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'File' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const fields = {
      path: e.type === 'Directory' && !e.path.endsWith('/') ? `${e.path}/` : e.path,
      type: e.type,
      mode: e.mode & 0o7777,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      size: data.length,
      mtime: e.mtime,
      linkpath: e.linkpath,
      uname: '',
      gname: '',
    };
    const header = new Header(fields);
    header.encode();
    if (header.needPax) {
      out.push(new Pax({ path: fields.path, linkpath: fields.linkpath, size: fields.size, uid: fields.uid, gid: fields.gid, mtime: fields.mtime }).encode());
      header.encode();
    }
    out.push(header.block as Buffer, block(data));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** The tree at `dir` as tar entries, parents before children, names sorted, owner 0:0, one mtime. */
