// The files of an archive given to `tslab import`, read without trusting it. Two kinds of source:
//   - a directory (an OCI layout, or an extracted docker save): files are opened with openat2
//     RESOLVE_BENEATH (fs/regular-file.ts), so a symlink may lead elsewhere inside the directory, never out;
//     only regular files are read, JSON documents up to a cap.
//   - a tar (plain, gzip or zstd): extracted into a private directory of the store's tmp/ first, with
//     only regular files written (O_EXCL|O_NOFOLLOW, parents made here, so nothing can lead a write
//     elsewhere), symlinks and hardlinks remembered as aliases (docker save links shared layer.tars), and
//     the expansion capped (TSLAB_MAX_IMPORT_SIZE, 100000 entries). The extracted files are ours, so
//     they are moved into the store by rename, not copied.
// No message quotes a file's content: a JSON error says where, never what (the file may be /etc/shadow).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReadEntry } from 'tar';
import { UnsafeFileError, isRegularIn, openRegularIn, readOpened, type OpenedFile } from '../fs/regular-file.js';
import { importLimits } from './limits.js';
import { streamTar, type EntrySink } from './tar-stream.js';
import { shown } from './unpack.js';

export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}

/** The most bytes of a JSON document of an archive (oci-layout, index.json, manifest.json). */
const MAX_JSON_FILE = 8 * 1024 * 1024;

export interface Source {
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

/** A path inside the archive, normalised; refuses absolute paths and `..`. */
function cleanRelative(p: string, what: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (p.startsWith('/') || parts.includes('..') || parts.length === 0 || p.includes('\0')) {
    throw new ImportError(`${what} ${shown(p)} is not a path inside the archive`);
  }
  return parts.join('/');
}

function resolveAlias(src: Source, rel: string): string {
  let current = rel;
  for (let i = 0; i < 16 && src.aliases.has(current); i++) current = src.aliases.get(current) as string;
  return current;
}

/** The archive-relative path `rel` names, its links followed. */
export function keyOf(src: Source, rel: string, what: string): string {
  return resolveAlias(src, cleanRelative(rel, what));
}

/** Opens the regular file at `rel` (close its fd when done); an ImportError says why not. */
export function openIn(src: Source, rel: string, what: string, maxBytes?: number): OpenedFile & { key: string } {
  const key = keyOf(src, rel, what);
  try {
    return { ...openRegularIn(src.dir, key, { confine: 'beneath', what: `${src.label}: ${what} ${shown(key)}`, maxBytes, within: 'the archive' }), key };
  } catch (err) {
    if (err instanceof UnsafeFileError) throw new ImportError(err.message);
    throw err;
  }
}

/** Whether `rel` is a regular file of the archive. */
export function existsIn(src: Source, rel: string): boolean {
  return isRegularIn(src.dir, resolveAlias(src, rel), 'beneath');
}

/** A JSON document of the archive, parsed; at most MAX_JSON_FILE bytes. */
export function readJsonIn<T>(src: Source, rel: string, what: string): T {
  const file = openIn(src, rel, what, MAX_JSON_FILE);
  let data: Buffer;
  try {
    data = readOpened(file, `${src.label}: ${what} ${shown(file.key)}`, MAX_JSON_FILE);
  } catch (err) {
    if (err instanceof UnsafeFileError) throw new ImportError(err.message);
    throw err;
  } finally {
    fs.closeSync(file.fd);
  }
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch {
    // Not the parser's message: it quotes the text, which may be anything.
    throw new ImportError(`${src.label}: ${what} ${shown(file.key)} is not valid JSON`);
  }
}

/** Writes a tar's regular files under `dir` and records its links; see the top of the file. */
class ArchiveExtractor implements EntrySink {
  failed: Error | undefined;
  readonly aliases = new Map<string, string>();
  private readonly made = new Set<string>();
  private openFd: number | undefined;

  constructor(private readonly dir: string) {}

  fail(err: unknown): void {
    this.failed ??= err instanceof Error ? err : new Error(String(err));
    this.closeOpenFile();
  }

  private closeOpenFile(): void {
    if (this.openFd === undefined) return;
    fs.closeSync(this.openFd);
    this.openFd = undefined;
  }

  private parent(rel: string): string {
    const parts = rel.split('/');
    let dir = this.dir;
    for (let i = 0; i < parts.length - 1; i++) {
      dir = path.join(dir, parts[i]);
      const sub = parts.slice(0, i + 1).join('/');
      if (this.made.has(sub)) continue;
      try {
        fs.mkdirSync(dir, 0o700);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(dir).isDirectory()) {
          throw new ImportError(`archive entry ${shown(rel)} is below ${shown(sub)}, which the archive has as a file`);
        }
      }
      this.made.add(sub);
    }
    return dir;
  }

  entry(entry: ReadEntry): void {
    if (entry.type === 'Directory' || entry.type === 'GNUDumpDir') {
      entry.resume();
      return;
    }
    const rel = cleanRelative(entry.path, 'archive entry');
    if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
      const linkpath = entry.linkpath ?? '';
      // A symlink is relative to its directory, a hardlink to the archive's root; an absolute one leads out.
      const to = entry.type === 'Link' || linkpath.startsWith('/') ? linkpath : path.posix.join(path.posix.dirname(rel), linkpath);
      this.aliases.set(rel, cleanRelative(path.posix.normalize(to), `link ${shown(entry.path)} ->`));
      entry.resume();
      return;
    }
    if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
      entry.resume(); // devices, FIFOs: nothing an image archive needs
      return;
    }
    const full = path.join(this.parent(rel), path.posix.basename(rel));
    this.aliases.delete(rel);
    try {
      fs.unlinkSync(full); // a later entry of the same name replaces an earlier one, as tar does
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR' || (err as NodeJS.ErrnoException).code === 'EPERM') {
        throw new ImportError(`archive entry ${shown(rel)} is a file where the archive has a directory`);
      }
    }
    const fd = fs.openSync(full, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    this.openFd = fd;
    entry.on('data', (chunk: Buffer) => {
      if (this.failed) return;
      try {
        for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      } catch (err) {
        this.fail(err);
      }
    });
    entry.on('end', () => this.closeOpenFile());
  }
}

/** Extracts the tar open at `fd` into the empty private directory `dir`; returns its links as aliases. */
export async function extractArchive(fd: number, dir: string, label: string): Promise<Map<string, string>> {
  const extractor = new ArchiveExtractor(dir);
  await streamTar(`/proc/self/fd/${fd}`, extractor, {
    limits: importLimits(),
    what: `the archive ${label}`,
    formatError: (message) => new ImportError(message),
  });
  return extractor.aliases;
}
