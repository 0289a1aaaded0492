// The Go-style flag parser of the CLI (src/cli/args.ts), as runc's urfave/cli parses a command line.
import { describe, expect, it } from 'vitest';
import { UsageError, flagString, parseArgs, type FlagSpec, type ParsedArgs } from '../../src/cli/args.js';

const SPECS: FlagSpec[] = [
  { names: ['bundle', 'b'], takesValue: true },
  { names: ['pid-file'], takesValue: true },
  { names: ['detach', 'd'], takesValue: false },
  { names: ['no-pivot'], takesValue: false },
];

const parse = (...argv: string[]): ParsedArgs => parseArgs(argv, SPECS);

/** The flags as a plain object, for whole-value comparisons. */
const flagsOf = (p: ParsedArgs): Record<string, string | true> => Object.fromEntries(p.flags);

/** Calls `fn` and returns the UsageError it throws (fails if it throws anything else, or nothing). */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  return expect.unreachable('expected a UsageError') as never;
}

describe('parseArgs: value flags', () => {
  it('takes --flag value, --flag=value, -f value, -f=value and -flag value', () => {
    for (const argv of [
      ['--bundle', '/b', 'id'],
      ['--bundle=/b', 'id'],
      ['-b', '/b', 'id'],
      ['-b=/b', 'id'],
      ['-bundle', '/b', 'id'],
      ['--b', '/b', 'id'],
    ]) {
      const p = parse(...argv);
      expect(flagsOf(p), argv.join(' ')).toEqual({ bundle: '/b' });
      expect(p.positional, argv.join(' ')).toEqual(['id']);
    }
  });

  it('stores a flag under its first name whatever alias was used', () => {
    const p = parse('-b', 'x');
    expect(p.flags.has('bundle')).toBe(true);
    expect(p.flags.has('b')).toBe(false);
    expect(flagString(p, 'bundle')).toBe('x');
  });

  it('keeps everything after the first "=" as the value', () => {
    expect(flagString(parse('--pid-file=a=b=c'), 'pid-file')).toBe('a=b=c');
  });

  it('accepts an empty value with --flag= and with --flag ""', () => {
    expect(flagString(parse('--pid-file='), 'pid-file')).toBe('');
    expect(flagString(parse('--pid-file', ''), 'pid-file')).toBe('');
  });

  it('takes the next word as the value even when it starts with a dash', () => {
    const p = parse('--pid-file', '--detach', 'id');
    expect(flagsOf(p)).toEqual({ 'pid-file': '--detach' });
    expect(p.positional).toEqual(['id']);
    expect(flagString(parse('-b', '-'), 'bundle')).toBe('-');
  });

  it('lets the last occurrence win', () => {
    expect(flagString(parse('--bundle', 'one', '-b=two', '--bundle', 'three'), 'bundle')).toBe('three');
  });

  it('keeps a value with spaces and slashes intact', () => {
    expect(flagString(parse('--bundle', '/a b/c d'), 'bundle')).toBe('/a b/c d');
  });

  it('fails when the value is missing at the end of the line', () => {
    const err = usageError(() => parse('--bundle'));
    expect(err.message).toBe('flag needs an argument: -bundle');
    expect(usageError(() => parse('--detach', '--pid-file')).message).toBe('flag needs an argument: -pid-file');
  });

  it('names the flag as written (the alias) when its value is missing', () => {
    expect(usageError(() => parse('--detach', '-b')).message).toBe('flag needs an argument: -b');
  });
});

describe('parseArgs: boolean flags', () => {
  it('sets a boolean with -d, --detach, --detach=true', () => {
    for (const argv of [['-d'], ['--detach'], ['--detach=true'], ['-detach=true'], ['--d']]) {
      expect(flagsOf(parse(...argv)), argv.join(' ')).toEqual({ detach: true });
    }
  });

  it('takes the last occurrence of a boolean, as Go does: --detach --detach=false is off', () => {
    expect(parse('--detach', '--detach=false', 'id').flags.has('detach')).toBe(false);
    expect(parse('--detach=false', '-d', 'id').flags.get('detach')).toBe(true);
  });

  it('leaves a boolean unset with --detach=false', () => {
    const p = parse('--detach=false', 'id');
    expect(p.flags.has('detach')).toBe(false);
    expect(p.positional).toEqual(['id']);
  });

  it('never takes the next word as a boolean\'s value', () => {
    const p = parse('--detach', 'false', 'id');
    expect(flagsOf(p)).toEqual({ detach: true });
    expect(p.positional).toEqual(['false', 'id']);
  });

  it('refuses a boolean value that is not true or false', () => {
    expect(usageError(() => parse('--detach=yes')).message).toBe('invalid boolean value "yes" for -detach');
    expect(usageError(() => parse('--no-pivot=1')).message).toBe('invalid boolean value "1" for -no-pivot');
    expect(usageError(() => parse('--detach=')).message).toBe('invalid boolean value "" for -detach');
  });

  it('flagString gives undefined for a boolean and for an absent flag', () => {
    const p = parse('--detach');
    expect(flagString(p, 'detach')).toBeUndefined();
    expect(flagString(p, 'bundle')).toBeUndefined();
    expect(flagString(p, 'no-such-flag')).toBeUndefined();
  });
});

describe('parseArgs: unknown flags', () => {
  it('refuses an unknown flag, naming it as Go does (one dash)', () => {
    expect(usageError(() => parse('--nope')).message).toBe('flag provided but not defined: -nope');
    expect(usageError(() => parse('-x')).message).toBe('flag provided but not defined: -x');
    expect(usageError(() => parse('--nope=1', 'id')).message).toBe('flag provided but not defined: -nope');
  });

  it('refuses an unknown flag that comes after known ones', () => {
    expect(usageError(() => parse('--detach', '-b', 'x', '--what', 'id')).message).toBe(
      'flag provided but not defined: -what',
    );
  });

  it('does not look at words after the first positional', () => {
    expect(() => parse('id', '--nope')).not.toThrow();
  });

  it('with no flag specs at all, any flag is unknown', () => {
    expect(() => parseArgs(['--detach'], [])).toThrow(UsageError);
    expect(parseArgs(['a', '--detach'], []).positional).toEqual(['a', '--detach']);
  });
});

describe('parseArgs: positionals and "--"', () => {
  it('returns no flags and no positionals for an empty line', () => {
    const p = parse();
    expect(p.flags.size).toBe(0);
    expect(p.positional).toEqual([]);
  });

  it('stops parsing flags at the first positional', () => {
    const p = parse('--detach', 'id', '--bundle', '/b', '-9');
    expect(flagsOf(p)).toEqual({ detach: true });
    expect(p.positional).toEqual(['id', '--bundle', '/b', '-9']);
  });

  it('treats a lone "-" as a positional', () => {
    const p = parse('-d', '-', '--bundle', 'x');
    expect(flagsOf(p)).toEqual({ detach: true });
    expect(p.positional).toEqual(['-', '--bundle', 'x']);
  });

  it('ends the flags at "--" and drops it', () => {
    const p = parse('-d', '--', '--bundle', 'x', '--');
    expect(flagsOf(p)).toEqual({ detach: true });
    expect(p.positional).toEqual(['--bundle', 'x', '--']);
  });

  it('keeps a "--" that comes after the first positional', () => {
    expect(parse('id', '--', 'x').positional).toEqual(['id', '--', 'x']);
  });

  it('a "--" used as a flag value is a value, not the end of the flags', () => {
    const p = parse('--bundle', '--', '--detach', 'id');
    expect(flagsOf(p)).toEqual({ bundle: '--', detach: true });
    expect(p.positional).toEqual(['id']);
  });

  it('does not change the argv it was given', () => {
    const argv = ['--bundle', 'x', '-d', 'id', 'more'];
    const copy = [...argv];
    parseArgs(argv, SPECS);
    expect(argv).toEqual(copy);
  });
});

describe('UsageError', () => {
  it('is an Error with the message', () => {
    const e = new UsageError('bad');
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe('bad');
  });
});
