// Content digests ("sha256:<64 hex>"): computing them, parsing them, and the error a mismatch raises.
// Only sha256 is supported, as in every OCI image a registry serves today.
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';

const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** The OCI digest grammar, any algorithm: `algorithm:encoded`. */
const ANY_DIGEST = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):[a-zA-Z0-9=_-]+$/;

/** The algorithm of a well-formed digest that is not sha256 ("sha512"), else undefined. */
export function otherAlgorithm(digest: string): string | undefined {
  const algorithm = ANY_DIGEST.exec(digest)?.[1];
  return algorithm === 'sha256' ? undefined : algorithm;
}

/** A blob's bytes do not hash to the digest they were stored or announced under. */
export class DigestMismatchError extends Error {
  readonly expected: string;
  readonly actual: string;

  constructor(expected: string, actual: string, what = 'blob') {
    super(`${what}: digest mismatch, expected ${expected} but the content hashes to ${actual}`);
    this.name = 'DigestMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

export class InvalidDigestError extends Error {
  constructor(digest: string) {
    super(
      otherAlgorithm(digest) !== undefined
        ? `unsupported digest algorithm in ${digest}: only sha256 is supported`
        : `not a digest: ${JSON.stringify(digest)} (expected sha256:<64 lowercase hex digits>)`,
    );
    this.name = 'InvalidDigestError';
  }
}

// A string is only tested (a type guard on it would make the false branch `never`); anything else is narrowed.
export function isDigest(value: string): boolean;
export function isDigest(value: unknown): value is string;
export function isDigest(value: unknown): boolean {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

/** The hex part of a sha256 digest; throws InvalidDigestError for anything else. */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new InvalidDigestError(digest);
  return digest.slice('sha256:'.length);
}

/** The short form docker shows for a digest: its first 12 hex digits. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

export function sha256Digest(data: Buffer | Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Incremental hashing for streams. */
export class Digester {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** The digest of a file's content, read in chunks. */
export async function digestFile(file: string): Promise<string> {
  const digester = new Digester();
  for await (const chunk of fs.createReadStream(file)) digester.update(chunk as Buffer);
  return digester.digest();
}

/** Throws DigestMismatchError unless `actual` equals `expected`. */
export function verifyDigest(actual: string, expected: string, what?: string): void {
  if (actual !== expected) throw new DigestMismatchError(expected, actual, what);
}
