// docker's flag grammar for `tslab run/ps/logs/...`: short booleans combine (-it, -dit), value flags take
// "-e X", "-eX", "--env X" or "--env=X", some repeat (-e, -v, -p), and flags stop at the first positional
// argument (the image), so everything after it belongs to the container's command.
// A grammar of its own beside args.ts's (docker's -it clusters and -eX against Go's -flag and --flag=false),
// on the same walk (walkFlags); by hand because node:util parseArgs would read the container command's flags.
import { UsageError, walkFlags } from './args.js';

export interface DockerFlag {
  long: string;
  short?: string;
  value: boolean;
  repeat?: boolean;
}

export interface DockerArgs {
  flags: Map<string, string | true | string[]>;
  positional: string[];
}

export function parseDockerArgs(argv: string[], specs: DockerFlag[]): DockerArgs {
  const flags = new Map<string, string | true | string[]>();
  const set = (spec: DockerFlag, value: string | true) => {
    if (spec.repeat) flags.set(spec.long, [...((flags.get(spec.long) as string[] | undefined) ?? []), value as string]);
    else flags.set(spec.long, value);
  };
  const positional = walkFlags(argv, (arg, next) => {
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = specs.find((s) => s.long === name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (!spec.value) {
        if (eq >= 0) throw new UsageError(`--${name} takes no value`);
        set(spec, true);
        return 0;
      }
      if (eq >= 0) set(spec, arg.slice(eq + 1));
      else if (next !== undefined) set(spec, next);
      else throw new UsageError(`flag needs an argument: --${name}`);
      return eq >= 0 ? 0 : 1;
    }
    // A cluster of short flags: booleans, then at most one value flag (which takes the rest or the next word).
    for (let j = 1; j < arg.length; j++) {
      const spec = specs.find((s) => s.short === arg[j]);
      if (!spec) throw new UsageError(`unknown shorthand flag: '${arg[j]}' in ${arg}`);
      if (!spec.value) {
        set(spec, true);
        continue;
      }
      const rest = arg.slice(j + 1);
      if (rest) set(spec, rest);
      else if (next !== undefined) set(spec, next);
      else throw new UsageError(`flag needs an argument: '${arg[j]}' in ${arg}`);
      return rest ? 0 : 1;
    }
    return 0;
  });
  return { flags, positional };
}

export function stringFlag(args: DockerArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function listFlag(args: DockerArgs, name: string): string[] {
  const v = args.flags.get(name);
  return Array.isArray(v) ? v : [];
}

export function numberFlag(args: DockerArgs, name: string): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} needs a number, not "${v}"`);
  return n;
}
