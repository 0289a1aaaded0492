// Caps on what tslab expands from an image, and how to raise them. A 2 MB gzip layer can hold 2 GiB of
// zeros (a "gzip bomb"); a tar can claim any number of entries. Every tar tslab expands is counted as it
// streams and stopped at the cap, with a sentence naming the cap and the variable that raises it.
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

/** "1 GiB", "512 MiB", "1234 bytes". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size && n % (size / 1024) === 0) return `${Number((n / size).toFixed(2))} ${unit}`;
  }
  return `${n} bytes`;
}

/** A byte count from the environment: "1073741824", "512M", "2G", "1.5GiB"; `fallback` when unset. */
export function bytesFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(raw);
  const value = m ? Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new LimitError(`${name}=${JSON.stringify(raw)} is not a size: give bytes, or a number with K, M, G or T (e.g. ${name}=4G)`);
  }
  return value;
}

export interface TarLimits {
  /** Bytes of uncompressed tar (headers and data). */
  maxBytes: number;
  /** Entries (files, directories, links...). */
  maxEntries: number;
  /** The environment variable that raises maxBytes, named in the error. */
  sizeVariable: string;
}

const DEFAULT_MAX_LAYER_SIZE = 1024 ** 3;
const DEFAULT_MAX_IMPORT_SIZE = 8 * 1024 ** 3;

/** One layer: TSLAB_MAX_LAYER_SIZE (default 1 GiB) uncompressed, a million entries. */
export function layerLimits(): TarLimits {
  return { maxBytes: bytesFromEnv('TSLAB_MAX_LAYER_SIZE', DEFAULT_MAX_LAYER_SIZE), maxEntries: 1_000_000, sizeVariable: 'TSLAB_MAX_LAYER_SIZE' };
}

/** An archive given to `tslab import`: TSLAB_MAX_IMPORT_SIZE (default 8 GiB) once decompressed, 100000 entries. */
export function importLimits(): TarLimits {
  return { maxBytes: bytesFromEnv('TSLAB_MAX_IMPORT_SIZE', DEFAULT_MAX_IMPORT_SIZE), maxEntries: 100_000, sizeVariable: 'TSLAB_MAX_IMPORT_SIZE' };
}

/** The sentence for a tar that expands past its size cap. */
export function sizeCapMessage(what: string, limits: TarLimits): string {
  return `${what} expands to more than ${formatBytes(limits.maxBytes)}, the most tslab unpacks from it (${limits.sizeVariable}); if you trust the image, raise the cap, e.g. ${limits.sizeVariable}=${Math.max(2, Math.ceil((limits.maxBytes * 4) / 1024 ** 3))}G`;
}
