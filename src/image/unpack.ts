// Unpacking one image layer (a tar, plain or gzip/zstd compressed) into a directory.
//
// How a malicious layer is kept inside its target. The archive is read with the `tar` package's Parser
// (which only parses: it writes nothing), and every entry is created here with plain fs calls:
//   - an entry's path must be relative and free of `..` (LayerSecurityError otherwise);
//   - its parent directories are walked from the target one component at a time with lstat, never
//     following a symlink: a symlink anywhere on the way (one made earlier by this very layer included)
//     is a LayerSecurityError; a missing directory is created (as tar does);
//   - the entry itself is never written through: whatever is at its path is removed first and the new
//     file is created with O_CREAT|O_EXCL|O_NOFOLLOW, links with symlink(2)/link(2), which do not follow;
//   - a hardlink's target is resolved the same way, inside the target; `..` or an absolute path is refused;
//   - a whiteout's name (".wh.<name>") must be a plain name too (not "", "." or "..").
// The checks and the writes are not racy because nothing else writes into the target while it is being
// unpacked (layerDirs unpacks into a fresh staging directory of its own): the only input an attacker
// controls is the archive, and it is processed one entry at a time, synchronously.
//
// Caps (src/image/limits.ts): the uncompressed tar may not exceed TSLAB_MAX_LAYER_SIZE (default 1 GiB) nor a
// million entries, counted while it streams; a path may not exceed PATH_MAX (4096 bytes) nor a name NAME_MAX
// (255). The blob's digest and the diff_id are computed in the same pass and compared at its end; a caller
// unpacks into a staging directory it removes on any failure (image.ts), so a mismatch leaves nothing.
//
// Directory modes, owners and times are applied at the end (deepest first, each path walked again
// without following symlinks), so a read-only directory can still be filled and its mtime is the archive's.
// Owners are applied only as root; device nodes are made only where mknod(2) is allowed (else skipped).
// Extended attributes in PAX headers (SCHILY.xattr.*) are not restored: the tar package does not parse them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReadEntry } from 'tar';
import { S_IFBLK, S_IFCHR, S_IFIFO, makedev, mknod } from '../linux/fs.js';
import { SyscallError } from '../linux/error.js';
import { lsetxattr } from '../linux/xattr.js';
import { digestHex, verifyDigest } from './digest.js';
import { layerLimits, type TarLimits } from './limits.js';
import { streamTar, type EntrySink } from './tar-stream.js';

/** A layer tried to write outside its target (or through a symlink). */
export class LayerSecurityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerSecurityError';
  }
}

/** A layer that is not a usable tar (truncated, bad checksum, unsupported entry type, ...). */
export class LayerFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerFormatError';
  }
}

export interface UnpackOptions {
  /**
   * true: whiteouts become overlayfs's own (".wh.x" -> a 0/0 character device "x"; ".wh..wh..opq" ->
   * trusted.overlay.opaque="y" on its directory), for a directory used as an overlayfs lower layer.
   * false (default): whiteouts are applied to what is already in the target (".wh.x" removes "x", an
   * opaque marker empties its directory of everything this layer did not write): unpacking layers one
   * after another into the same directory flattens an image.
   */
  overlayWhiteouts?: boolean;
  /** The digest the file must have (as stored); checked while it is read. */
  digest?: string;
  /** The digest the uncompressed tar must have (the config's diff_id). */
  diffId?: string;
  /** Told about what was skipped (device nodes without the right to make them). */
  onWarning?: (message: string) => void;
  /** Names the layer in messages (default: the file's path). */
  what?: string;
  /** Caps other than layerLimits()'s (TSLAB_MAX_LAYER_SIZE, a million entries). */
  limits?: Partial<TarLimits>;
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const AUFS_META_PREFIX = '.wh..wh.';
const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
// Node opens every fd with O_CLOEXEC itself.
const FILE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

interface Meta {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  atime?: Date;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

const PATH_MAX = 4096;
const NAME_MAX = 255;

/** A path for a message: quoted, and cut short (a hostile one may be 4 KiB of anything). */
export function shown(raw: string): string {
  return JSON.stringify(raw.length > 120 ? `${raw.slice(0, 120)}...` : raw);
}

/** An archive path as components: refuses absolute paths, `..` and over-long ones; drops "." and empty components. */
function splitEntryPath(raw: string, what: string): string[] {
  if (raw.includes('\0')) throw new LayerSecurityError(`${what} ${shown(raw)} contains a NUL byte`);
  if (raw.startsWith('/')) throw new LayerSecurityError(`${what} ${shown(raw)} is absolute; a layer may only name paths inside itself`);
  if (Buffer.byteLength(raw) >= PATH_MAX) throw new LayerFormatError(`${what} ${shown(raw)} is ${Buffer.byteLength(raw)} bytes long; a path has at most ${PATH_MAX - 1}`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new LayerSecurityError(`${what} ${shown(raw)} contains '..'; a layer may not reach outside itself`);
  const long = parts.find((p) => Buffer.byteLength(p) > NAME_MAX);
  if (long !== undefined) throw new LayerFormatError(`${what} ${shown(raw)} has a name of ${Buffer.byteLength(long)} bytes; a name has at most ${NAME_MAX}`);
  return parts;
}

/** Creates one layer's entries under `root`; see the comment at the top of the file. */
class LayerWriter implements EntrySink {
  private readonly isRoot = process.getuid?.() === 0;
  /** Paths (relative, '/'-joined) this layer has created: an opaque marker keeps them. */
  private readonly written = new Set<string>();
  /** Directory metadata applied at the end. */
  private readonly dirMeta = new Map<string, Meta>();
  /**
   * Relative paths known to be real directories (not symlinks) right now: parentDir does not lstat them
   * again for every entry. Emptied whenever anything is removed (a removed directory may come back as a symlink).
   */
  private readonly knownDirs = new Set<string>();
  private openFd: number | undefined;
  failed: Error | undefined;

  constructor(
    private readonly root: string,
    private readonly overlay: boolean,
    private readonly warn: (message: string) => void,
  ) {}

  fail(err: unknown): void {
    if (!this.failed) this.failed = err instanceof Error ? err : new Error(String(err));
    this.closeOpenFile();
  }

  private closeOpenFile(): void {
    if (this.openFd !== undefined) {
      try {
        fs.closeSync(this.openFd);
      } catch {
        /* already failing */
      }
      this.openFd = undefined;
    }
  }

  /**
   * The absolute path of the directory holding parts[last], walked from the root without following
   * symlinks. Missing directories are created when `create` is set, else they are an error.
   */
  private parentDir(parts: string[], label: string, create: boolean): string {
    const parentRel = parts.slice(0, -1).join('/');
    if (parentRel === '' || this.knownDirs.has(parentRel)) return path.join(this.root, parentRel);
    let dir = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      dir = path.join(dir, parts[i]);
      const rel = parts.slice(0, i + 1).join('/');
      if (this.knownDirs.has(rel)) continue;
      const st = lstatOrUndefined(dir);
      if (!st) {
        if (!create) throw new LayerFormatError(`${label}: ${shown(rel)} does not exist in the layer`);
        fs.mkdirSync(dir, 0o755);
        this.written.add(rel);
        this.knownDirs.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new LayerSecurityError(`${label}: the path goes through the symlink ${shown(rel)}; a layer may not write through a symlink`);
      }
      if (!st.isDirectory()) throw new LayerFormatError(`${label}: ${shown(rel)} is not a directory`);
      this.knownDirs.add(rel);
    }
    return dir;
  }

  /** Clears the way for a new non-directory (or a directory replacing a non-directory) at `full`. */
  private clear(full: string, keepDirectory: boolean): boolean {
    const st = lstatOrUndefined(full);
    if (!st) return false;
    if (st.isDirectory() && !st.isSymbolicLink()) {
      if (keepDirectory) return true;
      this.knownDirs.clear();
      fs.rmSync(full, { recursive: true, force: true });
      return false;
    }
    fs.unlinkSync(full);
    return false;
  }

  private chown(full: string, meta: Meta, fd?: number, symlink = false): void {
    if (!this.isRoot || meta.uid === undefined || meta.gid === undefined) return;
    if (fd !== undefined) fs.fchownSync(fd, meta.uid, meta.gid);
    else if (symlink) fs.lchownSync(full, meta.uid, meta.gid);
    else fs.chownSync(full, meta.uid, meta.gid);
  }

  private times(full: string, meta: Meta, fd?: number, symlink = false): void {
    if (!meta.mtime) return;
    const atime = meta.atime ?? meta.mtime;
    if (fd !== undefined) fs.futimesSync(fd, atime, meta.mtime);
    else if (symlink) fs.lutimesSync(full, atime, meta.mtime);
    else fs.utimesSync(full, atime, meta.mtime);
  }

  /** Handles one entry; data of a regular file arrives through the entry's 'data' events. */
  entry(entry: ReadEntry): void {
    const raw = entry.path;
    const parts = splitEntryPath(raw, 'path');
    const meta: Meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime, atime: entry.atime };
    const rel = parts.join('/');

    if (parts.length === 0) {
      if (entry.type !== 'Directory' && entry.type !== 'GNUDumpDir') {
        throw new LayerFormatError(`entry ${shown(raw)} names the layer's root but is a ${entry.type}`);
      }
      this.dirMeta.set('', meta);
      entry.resume();
      return;
    }

    const name = parts[parts.length - 1];
    // AUFS bookkeeping (.wh..wh.plnk/, .wh..wh.aufs) is not content; the opaque marker is handled below.
    if (parts.some((p, i) => p.startsWith(AUFS_META_PREFIX) && !(i === parts.length - 1 && p === OPAQUE_MARKER))) {
      entry.resume();
      return;
    }
    if (name.startsWith(WHITEOUT_PREFIX)) {
      this.whiteout(parts, raw);
      entry.resume();
      return;
    }

    const parent = this.parentDir(parts, shown(raw), true);
    const full = path.join(parent, name);
    this.written.add(rel);

    switch (entry.type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        this.regularFile(entry, full, meta);
        return;
      case 'Directory':
      case 'GNUDumpDir': {
        if (!this.clear(full, true)) fs.mkdirSync(full, 0o700);
        this.knownDirs.add(rel);
        this.dirMeta.set(rel, meta);
        break;
      }
      case 'SymbolicLink': {
        this.clear(full, false);
        fs.symlinkSync(entry.linkpath ?? '', full);
        this.chown(full, meta, undefined, true);
        this.times(full, meta, undefined, true);
        break;
      }
      case 'Link':
        this.hardlink(entry, raw, full);
        break;
      case 'CharacterDevice':
      case 'BlockDevice':
      case 'FIFO':
        this.device(entry, raw, rel, full, meta);
        break;
      default:
        throw new LayerFormatError(`${shown(raw)}: unsupported tar entry type ${entry.type}`);
    }
    entry.resume();
  }

  /** A regular file: made empty and private, its data written as it arrives, then its owner, mode and times. */
  private regularFile(entry: ReadEntry, full: string, meta: Meta): void {
    this.clear(full, false);
    const fd = fs.openSync(full, FILE_FLAGS, 0o600);
    this.openFd = fd;
    entry.on('data', (chunk: Buffer) => {
      if (this.failed) return;
      try {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      } catch (err) {
        this.fail(err);
      }
    });
    entry.on('end', () => {
      if (this.failed) return;
      try {
        this.chown(full, meta, fd);
        if (meta.mode !== undefined) fs.fchmodSync(fd, meta.mode);
        this.times(full, meta, fd);
        this.openFd = undefined;
        fs.closeSync(fd);
      } catch (err) {
        this.fail(err);
      }
    });
  }

  /** A hard link to an entry of this layer already unpacked (never a directory, never outside the layer). */
  private hardlink(entry: ReadEntry, raw: string, full: string): void {
    const targetParts = splitEntryPath(entry.linkpath ?? '', `hardlink ${shown(raw)} ->`);
    if (targetParts.length === 0) throw new LayerFormatError(`hardlink ${shown(raw)} has no target`);
    const link = `hardlink ${shown(raw)} -> ${shown(entry.linkpath ?? '')}`;
    const source = path.join(this.parentDir(targetParts, link, false), targetParts[targetParts.length - 1]);
    const st = lstatOrUndefined(source);
    if (!st) throw new LayerFormatError(`${link}: the target is not in the layer (so far)`);
    if (st.isDirectory()) throw new LayerFormatError(`${link}: the target is a directory`);
    if (source === full) return;
    this.clear(full, false);
    fs.linkSync(source, full); // link(2) without AT_SYMLINK_FOLLOW: a symlink target is linked, not followed
  }

  /** A device node or FIFO; a device this process may not make (no CAP_MKNOD) is skipped with a warning. */
  private device(entry: ReadEntry, raw: string, rel: string, full: string, meta: Meta): void {
    const kind = entry.type === 'FIFO' ? S_IFIFO : entry.type === 'CharacterDevice' ? S_IFCHR : S_IFBLK;
    this.clear(full, false);
    try {
      mknod(full, kind | ((meta.mode ?? 0o644) & 0o7777), makedev(entry.header.devmaj ?? 0, entry.header.devmin ?? 0));
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EPERM' && kind !== S_IFIFO) {
        this.written.delete(rel);
        this.warn(`skipped the device node ${shown(raw)}: this process may not create devices (needs CAP_MKNOD)`);
        return;
      }
      throw err;
    }
    this.chown(full, meta);
    if (meta.mode !== undefined) fs.chmodSync(full, meta.mode);
    this.times(full, meta);
  }

  private whiteout(parts: string[], raw: string): void {
    const marker = parts[parts.length - 1];
    const parent = this.parentDir(parts, shown(raw), true);
    const parentRel = parts.slice(0, -1).join('/');
    if (marker === OPAQUE_MARKER) {
      if (this.overlay) {
        lsetxattr(parent, OVERLAY_OPAQUE_XATTR, 'y');
      } else {
        this.knownDirs.clear();
        for (const child of fs.readdirSync(parent)) {
          const childRel = parentRel ? `${parentRel}/${child}` : child;
          if (!this.written.has(childRel)) fs.rmSync(path.join(parent, child), { recursive: true, force: true });
        }
      }
      return;
    }
    const name = marker.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') {
      throw new LayerSecurityError(`whiteout ${shown(raw)} does not name a file`);
    }
    const full = path.join(parent, name);
    if (this.overlay) {
      this.clear(full, false);
      mknod(full, S_IFCHR, makedev(0, 0)); // overlayfs's whiteout: a 0/0 character device
      this.written.add(parentRel ? `${parentRel}/${name}` : name);
    } else {
      this.knownDirs.clear();
      fs.rmSync(full, { recursive: true, force: true }); // rm removes a symlink itself, never its target
    }
  }

  /** Applies directory metadata, deepest first, to directories that are still real directories. */
  finish(): void {
    const dirs = [...this.dirMeta.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, meta] of dirs) {
      const parts = rel ? rel.split('/') : [];
      let full = this.root;
      if (parts.length) {
        try {
          full = path.join(this.parentDir(parts, rel, false), parts[parts.length - 1]);
        } catch {
          continue; // removed or replaced later in the layer
        }
        const st = lstatOrUndefined(full);
        if (!st || !st.isDirectory() || st.isSymbolicLink()) continue;
      }
      this.chown(full, meta);
      if (meta.mode !== undefined) fs.chmodSync(full, meta.mode);
      this.times(full, meta);
    }
  }
}

/**
 * Unpacks the layer tar `tarFile` (plain, gzip or zstd, told apart by their magic bytes) into `target`
 * (created if missing). Rejects with LayerSecurityError for an entry that would land outside `target`
 * or go through a symlink, LayerFormatError for a broken archive, LimitError past a cap,
 * DigestMismatchError when `digest` or `diffId` is given and does not match. On failure whatever was
 * already unpacked stays in `target` (for the caller to remove).
 */
export async function unpackLayer(tarFile: string, target: string, opts: UnpackOptions = {}): Promise<void> {
  if (opts.digest !== undefined) digestHex(opts.digest);
  if (opts.diffId !== undefined) digestHex(opts.diffId);
  const root = path.resolve(target);
  fs.mkdirSync(root, { recursive: true });
  const what = opts.what ?? `layer ${tarFile}`;
  const writer = new LayerWriter(root, opts.overlayWhiteouts === true, opts.onWarning ?? (() => {}));
  const digests = await streamTar(tarFile, writer, {
    limits: { ...layerLimits(), ...opts.limits },
    what,
    formatError: (message) => new LayerFormatError(message),
  });
  if (opts.digest !== undefined) verifyDigest(digests.fileDigest, opts.digest, `${what} (its blob)`);
  if (opts.diffId !== undefined) verifyDigest(digests.tarDigest, opts.diffId, `${what} (its uncompressed tar, the config's diff_id)`);
  writer.finish();
}
