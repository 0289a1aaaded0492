// Streaming a tar (plain, gzip or zstd, told apart by their magic bytes) entry by entry into a sink, with
// the stored blob and the uncompressed tar hashed on the way and the expansion capped as it happens:
// bytes of uncompressed tar (a gzip bomb stops at the cap, not at the disk's end), entries, and any single
// entry whose header alone claims more than the cap (refused before a byte of it is written).
// The tar package's Parser only parses; the sink writes. Used by layer unpack and by `tslab import`.
import * as fs from 'node:fs';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { Digester } from './digest.js';
import { LimitError, formatBytes, sizeCapMessage, type TarLimits } from './limits.js';
import { sniffCompression } from './media-types.js';

/** Where entries go. `entry` handles one (its data arrives through the entry's 'data' events) or throws. */
export interface EntrySink {
  readonly failed: Error | undefined;
  fail(err: unknown): void;
  entry(entry: ReadEntry): void;
}

export interface TarStreamOptions {
  limits: TarLimits;
  /** Names the tar in messages: "layer sha256:…", "archive x.tar". */
  what: string;
  /** The error for a tar that is not a usable one (truncated, bad checksum, ...). */
  formatError: (message: string) => Error;
}

export interface TarStreamResult {
  /** sha256 of the bytes as stored (compressed or not). */
  fileDigest: string;
  /** sha256 of the uncompressed tar: a layer's diff_id. */
  tarDigest: string;
}

function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    return head.subarray(0, fs.readSync(fd, head, 0, 4, 0));
  } finally {
    fs.closeSync(fd);
  }
}

function decompressor(compression: 'gzip' | 'zstd', opts: TarStreamOptions): Transform {
  if (compression === 'gzip') return zlib.createGunzip({ chunkSize: 256 * 1024 });
  const create = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (!create) throw opts.formatError(`${opts.what} is zstd-compressed; this Node (${process.version}) cannot decompress zstd (Node 22.15 or later can)`);
  return create();
}

/** A pass-through that hashes what goes by; with `cap`, fails once more than cap.maxBytes went by. */
function tap(digester: Digester, check?: (total: number, chunk: Buffer) => Error | undefined): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      digester.update(chunk);
      const err = check?.(digester.bytes, chunk);
      if (err) cb(err);
      else cb(null, chunk);
    },
  });
}

/**
 * Streams the tar in the regular file `file` (for a file already open: /proc/self/fd/N) into `sink`.
 * Rejects with the sink's first failure, a LimitError at a cap, or a format error; the caller removes
 * what the sink wrote.
 */
export async function streamTar(file: string, sink: EntrySink, opts: TarStreamOptions): Promise<TarStreamResult> {
  const { limits, what } = opts;
  const compression = sniffCompression(readHead(file));
  let allZero = true; // an archive of nothing but zero blocks (an empty layer) is fine, though tar calls it unrecognised
  let head: Buffer | undefined = Buffer.alloc(0);
  const fileDigest = new Digester();
  const tarDigest = new Digester();
  const input = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  const stages: Array<Readable | Transform | Writable> = [input, tap(fileDigest)];
  if (compression !== 'none') stages.push(decompressor(compression, opts));
  stages.push(
    tap(tarDigest, (total, chunk) => {
      if (total > limits.maxBytes) return new LimitError(sizeCapMessage(what, limits));
      if (head !== undefined) {
        head = Buffer.concat([head, chunk.subarray(0, 4)]);
        // The parser would quietly decompress a second layer of gzip or zstd, past every count made here.
        if (head.length >= 4 && compression !== 'none' && sniffCompression(head) !== 'none') {
          return opts.formatError(`${what} is compressed twice (its ${compression} stream holds another compressed stream, not a tar)`);
        }
        if (head.length >= 4) head = undefined;
      }
      if (allZero && chunk.some((b) => b !== 0)) allZero = false;
      return undefined;
    }),
  );

  // The parser is fed the plain tar; it must not try to decompress or sniff for brotli itself.
  const parser = new Parser({ brotli: false, zstd: false });
  let parserEnded = false;
  const ended = new Promise<void>((resolve) =>
    parser.once('end', () => {
      parserEnded = true;
      resolve();
    }),
  );
  checkEntries(parser, sink, opts, () => allZero);

  stages.push(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (!sink.failed) parser.write(chunk);
        cb(sink.failed);
      },
      final(cb) {
        if (sink.failed) return cb(sink.failed);
        parser.end();
        const done = (): void => cb(sink.failed);
        if (parserEnded) done();
        else void ended.then(done);
      },
    }),
  );

  try {
    await pipeline(stages as unknown as ReadonlyArray<NodeJS.ReadWriteStream>);
  } catch (err) {
    // The file is closed once the destroyed stream says so: a caller that checks its fds right away must not see it.
    // (Not events.once: the destroyed stream emits the pipeline's error first, which would reject it.)
    if (!input.closed) await new Promise<void>((resolve) => input.once('close', () => resolve()));
    const code = (err as NodeJS.ErrnoException).code;
    sink.fail(typeof code === 'string' && code.startsWith('Z_') ? opts.formatError(`${what} is a broken ${compression} stream: ${(err as Error).message}`) : err);
    throw sink.failed;
  }
  if (sink.failed) throw sink.failed;
  return { fileDigest: fileDigest.digest(), tarDigest: tarDigest.digest() };
}

/** The caps and refusals applied to each entry the parser finds, and its complaints as format errors. */
function checkEntries(parser: Parser, sink: EntrySink, opts: TarStreamOptions, allZero: () => boolean): void {
  const { limits, what } = opts;
  let entries = 0;
  parser.on('entry', (entry: ReadEntry) => {
    if (sink.failed) {
      entry.resume();
      return;
    }
    try {
      if (++entries > limits.maxEntries) throw new LimitError(`${what} has more than ${limits.maxEntries} entries, the most tslab unpacks from one tar`);
      if ((entry.size ?? 0) > limits.maxBytes) {
        throw new LimitError(`${sizeCapMessage(what, limits)} (its entry ${JSON.stringify(entry.path.slice(0, 200))} alone claims ${formatBytes(entry.size)})`);
      }
      sink.entry(entry);
    } catch (err) {
      sink.fail(err);
      entry.resume();
    }
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    sink.fail(opts.formatError(`${what}: ${JSON.stringify(entry.path.slice(0, 200))} has the unsupported tar entry type ${entry.header.type ?? '?'}`));
  });
  parser.on('warn', (code: string, message: string | Error) => {
    if (code === 'TAR_BAD_ARCHIVE' && allZero()) return;
    sink.fail(opts.formatError(`${what} is not a readable tar archive: ${message instanceof Error ? message.message : message}`));
  });
  parser.on('error', (err: Error) => sink.fail(opts.formatError(`${what} is not a readable tar archive: ${err.message}`)));
}

/** A sink that writes nothing: streamTar with it hashes a layer and checks it parses, within the caps. */
export class NullSink implements EntrySink {
  failed: Error | undefined;

  fail(err: unknown): void {
    this.failed ??= err instanceof Error ? err : new Error(String(err));
  }

  entry(entry: ReadEntry): void {
    entry.resume();
  }
}
