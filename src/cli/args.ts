// Go-style flag parsing as runc's CLI library does it: `-f`, `--flag`, `--flag=value`, `--flag value`;
// flags end at the first positional argument (so `kill ID -9`-like forms keep their dash words).
// By hand, as docker-args.ts: node:util parseArgs has no single-dash long flags, no `--flag=false` and
// reads flags after positionals; Go's own error sentences (`flag provided but not defined`) are kept too.

export interface FlagSpec {
  names: string[];
  takesValue: boolean;
}

export class UsageError extends Error {}

export interface ParsedArgs {
  flags: Map<string, string | true>;
  /** Every value of each flag that takes one, in order (runc's repeatable flags: exec --env, --cap...). */
  values: Map<string, string[]>;
  positional: string[];
}

/**
 * The walk both grammars share: each flag word up to `--` or the first word that is not a flag goes to
 * `take`, with the word after it (undefined at the end); `take` returns how many words after the flag it
 * used (0 or 1). Returns the positional arguments.
 */
export function walkFlags(argv: string[], take: (arg: string, next: string | undefined) => number): string[] {
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    i += take(arg, i + 1 < argv.length ? argv[i + 1] : undefined);
  }
  return argv.slice(i);
}

export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const values = new Map<string, string[]>();
  const positional = walkFlags(argv, (arg, next) => {
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = specs.find((s) => s.names.includes(name));
    if (!spec) throw new UsageError(`flag provided but not defined: -${name}`);
    const key = spec.names[0];
    if (!spec.takesValue) {
      const value = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (value !== 'true' && value !== 'false') throw new UsageError(`invalid boolean value "${value}" for -${name}`);
      // The last occurrence wins, as with Go's flag package: `--detach --detach=false` is off.
      if (value === 'true') flags.set(key, true);
      else flags.delete(key);
      return 0;
    }
    if (eq < 0 && next === undefined) throw new UsageError(`flag needs an argument: -${name}`);
    const value = eq >= 0 ? body.slice(eq + 1) : next!;
    flags.set(key, value);
    values.set(key, [...(values.get(key) ?? []), value]);
    return eq >= 0 ? 0 : 1;
  });
  return { flags, values, positional };
}

/** Every value given for a repeatable flag, in order. */
export function flagValues(args: ParsedArgs, name: string): string[] {
  return args.values.get(name) ?? [];
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}
