// Resource limit names and numbers for setrlimit(2)/prlimit(2) on x86_64 (asm-generic/resource.h).

/** Resource numbers by the names config.json uses in `process.rlimits[].type`. */
export const RLIMITS: Readonly<Record<string, number>> = Object.freeze({
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
});

/** RLIM_INFINITY: "no limit", the largest unsigned 64-bit value (config.json writes it as 18446744073709551615). */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

const nameByNumber: ReadonlyMap<number, string> = new Map(Object.entries(RLIMITS).map(([name, n]) => [n, name]));

/** An unknown rlimit type name. */
export class RlimitError extends Error {
  readonly rlimit: string;
  constructor(rlimit: string, message: string) {
    super(message);
    this.name = 'RlimitError';
    this.rlimit = rlimit;
  }
}

/** True if `name` is a known rlimit type, spelled exactly (`RLIMIT_NOFILE`). */
export function isRlimitName(name: string): boolean {
  return Object.hasOwn(RLIMITS, name);
}

/** The resource number of an rlimit name (`RLIMIT_NOFILE` → 7). Case-sensitive, like runc. */
export function rlimitNumber(name: string): number {
  if (isRlimitName(name)) return RLIMITS[name]!;
  const upper = name.toUpperCase();
  const guess = upper.startsWith('RLIMIT_') ? upper : `RLIMIT_${upper}`;
  const hint = isRlimitName(guess) ? ` (did you mean ${guess}?)` : '';
  // runc says "wrong rlimit value: <name>"; keep that start so the two read alike.
  throw new RlimitError(
    name,
    `wrong rlimit value: ${name}${hint}: rlimit types are RLIMIT_ followed by a resource name from ` +
      `setrlimit(2), for example RLIMIT_NOFILE or RLIMIT_NPROC`,
  );
}

/** The name of a resource number (7 → `RLIMIT_NOFILE`); unknown numbers print as `RLIMIT_<n>`. */
export function rlimitName(num: number): string {
  return nameByNumber.get(num) ?? `RLIMIT_${num}`;
}

/**
 * A config.json limit value as the exact unsigned 64-bit number setrlimit(2) wants.
 * JSON numbers become JavaScript doubles, so 18446744073709551615 (RLIM_INFINITY) arrives as 2^64:
 * anything at or above 2^64 - 1 is taken to mean RLIM_INFINITY.
 */
export function rlimitValue(value: number): bigint {
  if (Number.isNaN(value)) throw new RangeError('an rlimit value must be a number, not NaN');
  if (value >= 2 ** 64 - 1) return RLIM_INFINITY;
  if (value <= 0) return 0n;
  return BigInt(Math.floor(value));
}
