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

export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const values = new Map<string, string[]>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
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
      continue;
    }
    if (eq < 0 && i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
    const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
    flags.set(key, value);
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  return { flags, values, positional: argv.slice(i) };
}

/** Every value given for a repeatable flag, in order. */
export function flagValues(args: ParsedArgs, name: string): string[] {
  return args.values.get(name) ?? [];
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}
