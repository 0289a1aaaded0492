// Reading a bundle's config.json into a checked `Spec`.
//
// runc reads config.json with Go's encoding/json into the runtime-spec Go structs, and tslab copies the
// parts of that behaviour a config can notice:
//   - only the first JSON value in the file is read; anything after it is ignored (Go's json.Decoder);
//   - field names match case-insensitively when there is no exact match ("Process" fills `process`);
//   - unknown fields are ignored (kept in the result here, but never checked);
//   - `null` for a field leaves it unset; `null` inside a list or map becomes the zero value ("", 0, false);
//   - whole-number fields must be written as whole numbers (1, not 1.0 or 1e0) and fit their Go type
//     (uid is a uint32, rlimits are uint64, ...).
// On top of that tslab checks, with a sentence for the learner, what runc would only find out later
// (or not at all): see `checkSpec`.

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import { isCapabilityName, capabilityNumber } from '../capabilities.js';
import { parsePropagation } from '../mount-options.js';
import { isRlimitName, rlimitNumber } from '../rlimits.js';
import { SpecError } from './errors.js';
import type { Spec } from './types.js';

// ---------------------------------------------------------------------------------------------------
// The shape of config.json: every field of types.ts, in the order runc's Go structs declare them
// (formatSpec prints in this order), with how Go's `omitempty` treats each.

/**
 * How a field is left out when printed, and filled when read:
 * - 'never': always present (Go field without omitempty); a missing one reads as its zero value;
 * - 'empty': left out when empty ("", 0, false, [], {}) (omitempty on a value);
 * - 'nil':   left out only when unset (omitempty on a Go pointer: 0 and false are printed).
 */
export type OmitRule = 'never' | 'empty' | 'nil';

export type Schema =
  | { kind: 'string'; oneOf?: readonly string[] }
  | { kind: 'bool' }
  | { kind: 'int'; min: bigint; max: bigint; goType: string }
  | { kind: 'array'; of: Schema }
  | { kind: 'map'; of: Schema }
  | { kind: 'struct'; fields: readonly Field[] }
  | { kind: 'any' };

export interface Field {
  name: string;
  schema: Schema;
  omit: OmitRule;
}

const str: Schema = { kind: 'string' };
const oneOf = (...values: string[]): Schema => ({ kind: 'string', oneOf: values });
const bool: Schema = { kind: 'bool' };
const any: Schema = { kind: 'any' };
const u32: Schema = { kind: 'int', min: 0n, max: 0xffff_ffffn, goType: 'uint32' };
const u64: Schema = { kind: 'int', min: 0n, max: 0xffff_ffff_ffff_ffffn, goType: 'uint64' };
const i64: Schema = { kind: 'int', min: -(2n ** 63n), max: 2n ** 63n - 1n, goType: 'int64' };
const arr = (of: Schema): Schema => ({ kind: 'array', of });
const map = (of: Schema): Schema => ({ kind: 'map', of });
const struct = (...fields: [string, Schema, OmitRule][]): Schema => ({
  kind: 'struct',
  fields: fields.map(([name, schema, omit]) => ({ name, schema, omit })),
});

const hook = struct(['path', str, 'never'], ['args', arr(str), 'empty'], ['env', arr(str), 'empty'], ['timeout', i64, 'nil']);

/** The schema of config.json as types.ts describes it. */
export const SPEC_SCHEMA: Schema = struct(
  ['ociVersion', str, 'never'],
  [
    'process',
    struct(
      ['terminal', bool, 'empty'],
      ['consoleSize', struct(['height', u64, 'never'], ['width', u64, 'never']), 'nil'],
      [
        'user',
        struct(
          ['uid', u32, 'never'],
          ['gid', u32, 'never'],
          ['umask', u32, 'nil'],
          ['additionalGids', arr(u32), 'empty'],
          ['username', str, 'empty'],
        ),
        'never',
      ],
      ['args', arr(str), 'empty'],
      ['env', arr(str), 'empty'],
      ['cwd', str, 'never'],
      [
        'capabilities',
        struct(
          ['bounding', arr(str), 'empty'],
          ['effective', arr(str), 'empty'],
          ['inheritable', arr(str), 'empty'],
          ['permitted', arr(str), 'empty'],
          ['ambient', arr(str), 'empty'],
        ),
        'nil',
      ],
      ['rlimits', arr(struct(['type', str, 'never'], ['hard', u64, 'never'], ['soft', u64, 'never'])), 'empty'],
      ['noNewPrivileges', bool, 'empty'],
      ['apparmorProfile', str, 'empty'],
      ['oomScoreAdj', i64, 'nil'],
      ['selinuxLabel', str, 'empty'],
    ),
    'nil',
  ],
  ['root', struct(['path', str, 'never'], ['readonly', bool, 'empty']), 'nil'],
  ['hostname', str, 'empty'],
  ['domainname', str, 'empty'],
  [
    'mounts',
    arr(struct(['destination', str, 'never'], ['type', str, 'empty'], ['source', str, 'empty'], ['options', arr(str), 'empty'])),
    'empty',
  ],
  [
    'hooks',
    struct(
      ['prestart', arr(hook), 'empty'],
      ['createRuntime', arr(hook), 'empty'],
      ['createContainer', arr(hook), 'empty'],
      ['startContainer', arr(hook), 'empty'],
      ['poststart', arr(hook), 'empty'],
      ['poststop', arr(hook), 'empty'],
    ),
    'nil',
  ],
  ['annotations', map(str), 'empty'],
  [
    'linux',
    struct(
      ['uidMappings', arr(struct(['containerID', u32, 'never'], ['hostID', u32, 'never'], ['size', u32, 'never'])), 'empty'],
      ['gidMappings', arr(struct(['containerID', u32, 'never'], ['hostID', u32, 'never'], ['size', u32, 'never'])), 'empty'],
      ['timeOffsets', any, 'nil'],
      ['sysctl', map(str), 'empty'],
      [
        'resources',
        struct(
          [
            'devices',
            arr(
              struct(
                ['allow', bool, 'never'],
                ['type', oneOf('a', 'c', 'b'), 'empty'],
                ['major', i64, 'nil'],
                ['minor', i64, 'nil'],
                ['access', str, 'empty'],
              ),
            ),
            'empty',
          ],
          [
            'memory',
            struct(
              ['limit', i64, 'nil'],
              ['reservation', i64, 'nil'],
              ['swap', i64, 'nil'],
              ['kernel', i64, 'nil'],
              ['kernelTCP', i64, 'nil'],
              ['swappiness', u64, 'nil'],
              ['disableOOMKiller', bool, 'nil'],
            ),
            'nil',
          ],
          [
            'cpu',
            struct(
              ['shares', u64, 'nil'],
              ['quota', i64, 'nil'],
              ['period', u64, 'nil'],
              ['realtimeRuntime', i64, 'nil'],
              ['realtimePeriod', u64, 'nil'],
              ['cpus', str, 'empty'],
              ['mems', str, 'empty'],
              ['idle', i64, 'nil'],
            ),
            'nil',
          ],
          ['pids', struct(['limit', i64, 'never']), 'nil'],
          ['blockIO', any, 'nil'],
          ['hugepageLimits', arr(any), 'empty'],
          ['network', any, 'nil'],
          ['rdma', any, 'nil'],
          ['unified', map(str), 'empty'],
        ),
        'nil',
      ],
      ['cgroupsPath', str, 'empty'],
      ['namespaces', arr(struct(['type', str, 'never'], ['path', str, 'empty'])), 'empty'],
      [
        'devices',
        arr(
          struct(
            ['path', str, 'never'],
            ['type', oneOf('c', 'b', 'u', 'p'), 'never'],
            ['major', i64, 'empty'],
            ['minor', i64, 'empty'],
            ['fileMode', u32, 'nil'],
            ['uid', u32, 'nil'],
            ['gid', u32, 'nil'],
          ),
        ),
        'empty',
      ],
      ['seccomp', any, 'nil'],
      ['rootfsPropagation', str, 'empty'],
      ['maskedPaths', arr(str), 'empty'],
      ['readonlyPaths', arr(str), 'empty'],
      ['mountLabel', str, 'empty'],
      ['intelRdt', any, 'nil'],
      ['personality', any, 'nil'],
    ),
    'nil',
  ],
);

// ---------------------------------------------------------------------------------------------------
// A small JSON reader that remembers where each value starts, keeps the exact text of numbers, and
// fails with a line and column.

type JsonNode =
  | { t: 'object'; at: number; entries: { key: string; value: JsonNode }[] }
  | { t: 'array'; at: number; items: JsonNode[] }
  | { t: 'string'; at: number; value: string }
  | { t: 'number'; at: number; raw: string }
  | { t: 'bool'; at: number; value: boolean }
  | { t: 'null'; at: number };

class Located {
  constructor(
    readonly text: string,
    readonly file: string,
  ) {}

  lineColumn(offset: number): { line: number; column: number } {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < offset && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    return { line, column: offset - lineStart + 1 };
  }

  /** A SpecError whose message starts with `file:line:column:`. */
  error(offset: number | undefined, field: string, sentence: string): SpecError {
    if (offset === undefined) return new SpecError(`${this.file}: ${sentence}`, { field, file: this.file });
    const { line, column } = this.lineColumn(offset);
    return new SpecError(`${this.file}:${line}:${column}: ${sentence}`, { field, file: this.file, line, column });
  }
}

function describeChar(ch: string | undefined): string {
  if (ch === undefined) return 'the end of the file';
  if (ch === '\n') return 'a line break';
  if (ch === '\t') return 'a tab';
  if (ch === ' ') return 'a space';
  const code = ch.charCodeAt(0);
  if (code < 0x20) return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${ch}'`;
}

function parseJson(src: Located): JsonNode {
  const text = src.text;
  let i = 0;

  const fail = (at: number, expected: string, hint = ''): never => {
    const found = describeChar(text[at]);
    const extra =
      hint ||
      (text[at] === '/' ? ' (JSON does not allow comments)' : '') ||
      (text[at] === "'" ? ' (JSON strings and field names need "double quotes")' : '') ||
      (at >= text.length ? ' (the file ends too early: is a closing } or ] missing?)' : '');
    throw src.error(at, '', `this is not valid JSON: expected ${expected} but found ${found}${extra}`);
  };

  const skipSpace = (): void => {
    while (i < text.length) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else break;
    }
  };

  const value = (): JsonNode => {
    skipSpace();
    const at = i;
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return { t: 'string', at, value: string() };
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const [word, node] of [
      ['true', { t: 'bool', at, value: true }],
      ['false', { t: 'bool', at, value: false }],
      ['null', { t: 'null', at }],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return node;
      }
    }
    return fail(at, 'a value (a "string", a number, true, false, null, { or [)');
  };

  const object = (): JsonNode => {
    const at = i;
    i++; // {
    const entries: { key: string; value: JsonNode }[] = [];
    skipSpace();
    if (text[i] === '}') {
      i++;
      return { t: 'object', at, entries };
    }
    for (;;) {
      skipSpace();
      if (text[i] !== '"') {
        const hint = text[i] === '}' && entries.length > 0 ? ' (JSON does not allow a comma after the last field)' : '';
        fail(i, 'a field name in "double quotes"', hint);
      }
      const key = string();
      skipSpace();
      if (text[i] !== ':') fail(i, `':' after the field name "${key}"`);
      i++;
      entries.push({ key, value: value() });
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return { t: 'object', at, entries };
      }
      fail(i, "',' or '}' after a field's value", text[i] === '"' ? ' (is a comma missing?)' : '');
    }
  };

  const array = (): JsonNode => {
    const at = i;
    i++; // [
    const items: JsonNode[] = [];
    skipSpace();
    if (text[i] === ']') {
      i++;
      return { t: 'array', at, items };
    }
    for (;;) {
      skipSpace();
      if (text[i] === ']' && items.length > 0) fail(i, 'a value', ' (JSON does not allow a comma after the last item)');
      items.push(value());
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return { t: 'array', at, items };
      }
      fail(i, "',' or ']' after a list item", text[i] === '"' ? ' (is a comma missing?)' : '');
    }
  };

  const hex4 = (at: number): number => {
    const h = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail(at, 'four hex digits after \\u');
    return parseInt(h, 16);
  };

  const string = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail(i, 'a closing "');
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\') {
        const e = text[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
          continue;
        }
        if (e === 'u') {
          let code = hex4(i + 2);
          i += 6;
          if (code >= 0xd800 && code <= 0xdbff && text[i] === '\\' && text[i + 1] === 'u') {
            const low = hex4(i + 2);
            if (low >= 0xdc00 && low <= 0xdfff) {
              out += String.fromCharCode(code, low);
              i += 6;
              continue;
            }
          }
          // Like Go, a surrogate that is not part of a pair becomes U+FFFD.
          if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
          out += String.fromCharCode(code);
          continue;
        }
        fail(i + 1, 'an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX) after a backslash');
      }
      if (c.charCodeAt(0) < 0x20) fail(i, 'a closing " on the same line', ' (write a line break inside a string as \\n)');
      out += c;
      i++;
    }
  };

  const number = (): JsonNode => {
    const at = i;
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') return fail(at, 'a number');
    i += m[0].length;
    return { t: 'number', at, raw: m[0] };
  };

  if (text.charCodeAt(0) === 0xfeff) {
    throw src.error(0, '', 'the file starts with a byte order mark (BOM), which JSON for runc must not have: save it as plain UTF-8');
  }
  skipSpace();
  if (i >= text.length) throw src.error(undefined, '', 'the file is empty: it should hold a JSON object like the one `tslab-runtime spec` writes');
  // Like Go's json.Decoder (which runc uses), read the first value and ignore whatever follows it.
  return value();
}

// ---------------------------------------------------------------------------------------------------
// From JSON nodes to a typed value, checking types against the schema.

function childPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}.${name}`;
}

function describeNode(node: JsonNode): string {
  switch (node.t) {
    case 'object':
      return 'an object ({ ... })';
    case 'array':
      return 'a list ([ ... ])';
    case 'string': {
      const s = node.value.length > 40 ? `${node.value.slice(0, 40)}...` : node.value;
      return `the string ${JSON.stringify(s)}`;
    }
    case 'number':
      return `the number ${node.raw}`;
    case 'bool':
      return String(node.value);
    case 'null':
      return 'null';
  }
}

function expectedText(schema: Schema): string {
  switch (schema.kind) {
    case 'string':
      return schema.oneOf ? `one of ${schema.oneOf.map((v) => JSON.stringify(v)).join(', ')}` : 'a string (in "double quotes")';
    case 'bool':
      return 'true or false';
    case 'int':
      return `a whole number from ${schema.min} to ${schema.max}`;
    case 'array':
      return 'a list ([ ... ])';
    case 'map':
      return 'an object of "name": "value" pairs';
    case 'struct':
      return 'an object ({ ... })';
    case 'any':
      return 'any JSON value';
  }
}

/** The value Go leaves in a field that JSON did not fill. */
function zeroOf(schema: Schema): unknown {
  switch (schema.kind) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int':
      return 0;
    case 'array':
      return [];
    case 'map':
      return {};
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const f of schema.fields) if (f.omit === 'never') out[f.name] = zeroOf(f.schema);
      return out;
    }
    case 'any':
      return null;
  }
}

/** Go's rule for matching a JSON key to a field name: exact, else ASCII case-insensitive, where 'ſ' (U+017F) folds to s and 'K' (U+212A, Kelvin) to k. */
function foldKey(key: string): string {
  return key.replace(/[A-Z\u017f\u212a]/g, (c) => (c === '\u017f' ? 's' : c === '\u212a' ? 'k' : c.toLowerCase()));
}

/** JSON path → offset of the value there, for pointing at fields in later checks. */
type Locations = Map<string, number>;

/** Set a key as an own property, even "__proto__", so a config cannot change an object's prototype. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function plain(node: JsonNode): unknown {
  switch (node.t) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const { key, value } of node.entries) setOwn(out, key, plain(value));
      return out;
    }
    case 'array':
      return node.items.map(plain);
    case 'string':
    case 'bool':
      return node.value;
    case 'number':
      return Number(node.raw);
    case 'null':
      return null;
  }
}

function convert(src: Located, node: JsonNode, schema: Schema, path: string, locs: Locations, unknown: string[]): unknown {
  locs.set(path, node.at);
  if (node.t === 'null') return zeroOf(schema);
  const mismatch = (): never => {
    throw src.error(node.at, path, `${path || 'the top level'} must be ${expectedText(schema)}, but it is ${describeNode(node)}`);
  };
  switch (schema.kind) {
    case 'any':
      return plain(node);
    case 'string':
      if (node.t !== 'string') return mismatch();
      if (schema.oneOf && !schema.oneOf.includes(node.value)) return mismatch();
      return node.value;
    case 'bool':
      if (node.t !== 'bool') return mismatch();
      return node.value;
    case 'int': {
      if (node.t !== 'number') return mismatch();
      // Go parses whole-number fields with strconv.ParseInt/ParseUint on the literal: no fraction, no exponent,
      // and no minus sign at all (not even -0) for unsigned types.
      const unsigned = schema.min === 0n;
      const ok = unsigned ? /^[0-9]+$/.test(node.raw) : /^-?[0-9]+$/.test(node.raw);
      if (!ok || BigInt(node.raw) < schema.min || BigInt(node.raw) > schema.max) return mismatch();
      return Number(node.raw);
    }
    case 'array': {
      if (node.t !== 'array') return mismatch();
      return node.items.map((item, idx) => convert(src, item, schema.of, `${path}[${idx}]`, locs, unknown));
    }
    case 'map': {
      if (node.t !== 'object') return mismatch();
      const out: Record<string, unknown> = {};
      for (const { key, value } of node.entries) {
        setOwn(out, key, convert(src, value, schema.of, `${path}[${JSON.stringify(key)}]`, locs, unknown));
      }
      return out;
    }
    case 'struct': {
      if (node.t !== 'object') return mismatch();
      const out: Record<string, unknown> = {};
      const byName = new Map(schema.fields.map((f) => [f.name, f]));
      const byFold = new Map<string, Field>();
      for (const f of schema.fields) if (!byFold.has(foldKey(f.name))) byFold.set(foldKey(f.name), f);
      for (const { key, value } of node.entries) {
        const field = byName.get(key) ?? byFold.get(foldKey(key));
        if (!field) {
          // Unknown fields are ignored by runc; keep them as they are, and tell whoever asked (a typo is likely).
          setOwn(out, key, plain(value));
          unknown.push(childPath(path, key));
          continue;
        }
        const fieldPath = childPath(path, field.name);
        if (value.t === 'null') {
          // Go: null leaves a value field as it was and sets a pointer field to nil.
          if (field.omit === 'nil') delete out[field.name];
          locs.set(fieldPath, value.at);
          continue;
        }
        const v = convert(src, value, field.schema, fieldPath, locs, unknown);
        // An empty string for an optional choice (like a device rule's "type") means "not set".
        if (field.schema.kind === 'string' && field.schema.oneOf && v === '' && field.omit !== 'never') continue;
        out[field.name] = v;
      }
      for (const f of schema.fields) {
        if (f.omit === 'never' && !Object.hasOwn(out, f.name)) out[f.name] = zeroOf(f.schema);
      }
      return out;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Checks beyond types.

const KNOWN_NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

function isAbs(p: string): boolean {
  return p.startsWith('/');
}

function checkSpec(src: Located, spec: Spec, locs: Locations): void {
  const err = (field: string, sentence: string): SpecError => src.error(locs.get(field), field, sentence);

  // ociVersion: runc itself does not look at it, but a 2.x config would mean something else.
  if (spec.ociVersion === '') {
    throw err(
      'ociVersion',
      'ociVersion is missing: config.json must say which version of the OCI runtime spec it follows, e.g. "ociVersion": "1.0.2-dev"',
    );
  }
  if (!/^1\.[0-9]+(\.[0-9]+)?([-+][0-9A-Za-z.+-]*)?$/.test(spec.ociVersion)) {
    throw err(
      'ociVersion',
      `ociVersion ${JSON.stringify(spec.ociVersion)} is not supported: this runtime implements version 1.x of the OCI runtime spec (like "1.0.2-dev")`,
    );
  }

  // process (runc: validateProcessSpec, in this order).
  const proc = spec.process;
  if (proc === undefined) {
    throw err('process', 'process property must not be empty: config.json needs a "process" object that says what to run in the container');
  }
  if (proc.cwd === '') {
    throw err('process.cwd', 'Cwd property must not be empty: process.cwd is the directory, inside the container, the process starts in (usually "/")');
  }
  if (!isAbs(proc.cwd)) {
    throw err('process.cwd', `Cwd must be an absolute path: process.cwd is ${JSON.stringify(proc.cwd)}, but it must start with "/" (it is a path inside the container)`);
  }
  if ((proc.args ?? []).length === 0) {
    throw err('process.args', 'args must not be empty: process.args is the command to run, program first, e.g. ["sh"]');
  }
  if (proc.args[0] === '') {
    throw err('process.args[0]', 'process.args[0] is the program to run and must not be an empty string');
  }
  noNul('process.cwd', proc.cwd);
  proc.args.forEach((a, i) => noNul(`process.args[${i}]`, a));
  (proc.env ?? []).forEach((pair, i) => checkEnv(`process.env[${i}]`, pair));

  const caps = proc.capabilities;
  if (caps) {
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const) {
      (caps[set] ?? []).forEach((name, i) => {
        if (!isCapabilityName(name)) {
          let message = '';
          try {
            capabilityNumber(name);
          } catch (e) {
            message = (e as Error).message;
          }
          throw err(`process.capabilities.${set}[${i}]`, `process.capabilities.${set}[${i}]: ${message}`);
        }
      });
    }
  }

  const seenRlimits = new Map<string, number>();
  (proc.rlimits ?? []).forEach((rl, i) => {
    const at = `process.rlimits[${i}]`;
    if (!isRlimitName(rl.type)) {
      let message = '';
      try {
        rlimitNumber(rl.type);
      } catch (e) {
        message = (e as Error).message;
      }
      throw err(`${at}.type`, `${at}.type: ${message}`);
    }
    const before = seenRlimits.get(rl.type);
    if (before !== undefined) {
      throw err(`${at}.type`, `${rl.type} is set twice, in process.rlimits[${before}] and ${at}: the OCI spec requires each rlimit type to appear once`);
    }
    seenRlimits.set(rl.type, i);
    if (rl.soft > rl.hard) {
      throw err(`${at}.soft`, `${at}: the soft limit (${rl.soft}) is above the hard limit (${rl.hard}); setrlimit(2) refuses that, the soft limit must be at most the hard one`);
    }
  });

  // root (runc: CreateLibcontainerConfig).
  if (spec.root === undefined) {
    throw err('root', 'root must be specified: config.json needs "root": { "path": "rootfs" } naming the directory that becomes the container\'s /');
  }
  if (spec.root.path === '') {
    throw err('root.path', 'root.path must not be empty: it names the directory that becomes the container\'s / (usually "rootfs", relative to the bundle)');
  }
  noNul('root.path', spec.root.path);

  // mounts
  (spec.mounts ?? []).forEach((m, i) => {
    const at = `mounts[${i}]`;
    if (!isAbs(m.destination)) {
      throw err(
        `${at}.destination`,
        `${at}.destination is ${JSON.stringify(m.destination)}, but a mount destination must be an absolute path inside the container (starting with "/"), like "/proc"`,
      );
    }
    noNul(`${at}.destination`, m.destination);
    if (m.source !== undefined) noNul(`${at}.source`, m.source);
    if (m.type !== undefined) noNul(`${at}.type`, m.type);
    (m.options ?? []).forEach((o, j) => noNul(`${at}.options[${j}]`, o));
  });

  // hooks
  const hooks = spec.hooks;
  if (hooks) {
    for (const stage of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const) {
      (hooks[stage] ?? []).forEach((h, i) => {
        const at = `hooks.${stage}[${i}]`;
        if (!isAbs(h.path)) {
          throw err(`${at}.path`, `${at}.path is ${JSON.stringify(h.path)}, but a hook's path must be absolute (starting with "/"): the runtime runs it without searching $PATH`);
        }
        noNul(`${at}.path`, h.path);
        if (h.timeout !== undefined && h.timeout <= 0) {
          throw err(`${at}.timeout`, `${at}.timeout is ${h.timeout}, but a hook timeout is a number of seconds and must be greater than zero`);
        }
        (h.env ?? []).forEach((pair, j) => checkEnv(`${at}.env[${j}]`, pair));
      });
    }
  }

  // linux
  const linux = spec.linux;
  const namespaces = new Set<string>();
  if (linux) {
    if (linux.seccomp !== undefined && linux.seccomp !== null) {
      throw err('linux.seccomp', 'linux.seccomp is not supported yet: tslab cannot install seccomp system-call filters; remove "seccomp" from "linux" to run without one');
    }
    if ((linux.uidMappings ?? []).length > 0) {
      throw err('linux.uidMappings', 'linux.uidMappings is not supported yet: user namespaces (and their uid/gid mappings) are not implemented in tslab; remove "uidMappings"');
    }
    if ((linux.gidMappings ?? []).length > 0) {
      throw err('linux.gidMappings', 'linux.gidMappings is not supported yet: user namespaces (and their uid/gid mappings) are not implemented in tslab; remove "gidMappings"');
    }
    if (linux.rootfsPropagation !== undefined) {
      try {
        parsePropagation(linux.rootfsPropagation);
      } catch (e) {
        throw err('linux.rootfsPropagation', (e as Error).message);
      }
    }
    (linux.namespaces ?? []).forEach((ns, i) => {
      const at = `linux.namespaces[${i}]`;
      const type: string = ns.type;
      if (!KNOWN_NAMESPACES.includes(type)) {
        throw err(
          `${at}.type`,
          `namespace ${JSON.stringify(type)} does not exist: ${at}.type must be one of pid, network, mount, ipc, uts, cgroup (or user, time)`,
        );
      }
      if (type === 'user') {
        throw err(`${at}.type`, 'the user namespace is not supported yet: tslab cannot create user namespaces; remove {"type": "user"} from linux.namespaces');
      }
      if (type === 'time') {
        throw err(`${at}.type`, 'the time namespace is not supported (runc 1.1.5 does not know it either); remove {"type": "time"} from linux.namespaces');
      }
      if (namespaces.has(type)) {
        throw err(`${at}.type`, `malformed spec file: duplicated ns ${JSON.stringify(type)}: each namespace type may appear only once in linux.namespaces`);
      }
      namespaces.add(type);
      if (ns.path !== undefined && ns.path !== '' && !isAbs(ns.path)) {
        throw err(`${at}.path`, `${at}.path is ${JSON.stringify(ns.path)}, but a namespace path must be absolute, like "/proc/1234/ns/${nsFile(type)}"`);
      }
    });
    (linux.maskedPaths ?? []).forEach((p, i) => noNul(`linux.maskedPaths[${i}]`, p));
    (linux.readonlyPaths ?? []).forEach((p, i) => noNul(`linux.readonlyPaths[${i}]`, p));
  }

  // runc's config validator (libcontainer/configs/validate): things that need their namespace.
  if (spec.hostname !== undefined && spec.hostname !== '' && !namespaces.has('uts')) {
    throw err('hostname', 'unable to set hostname without a private UTS namespace: add {"type": "uts"} to linux.namespaces, or remove "hostname"');
  }
  if (((linux?.maskedPaths ?? []).length > 0 || (linux?.readonlyPaths ?? []).length > 0) && !namespaces.has('mount')) {
    throw err(
      (linux?.maskedPaths ?? []).length > 0 ? 'linux.maskedPaths' : 'linux.readonlyPaths',
      'unable to restrict sys entries without a private MNT namespace: maskedPaths and readonlyPaths need {"type": "mount"} in linux.namespaces',
    );
  }

  for (const key of Object.keys(linux?.sysctl ?? {})) {
    const needed = sysctlNamespace(key);
    if (!needed) {
      throw err(`linux.sysctl`, `sysctl ${JSON.stringify(key)} is not in a separate kernel namespace: setting it would change the host`);
    }
    if (!namespaces.has(needed)) {
      throw err(`linux.sysctl`, `sysctl ${JSON.stringify(key)} not allowed without a private ${needed} namespace: add {"type": "${needed}"} to linux.namespaces`);
    }
  }

  function noNul(field: string, value: string): void {
    if (value.includes('\0')) {
      throw err(field, `${field} contains a NUL character (\\u0000), which no path, argument or name passed to the kernel can hold`);
    }
  }

  function checkEnv(field: string, pair: string): void {
    // runc checks these when the container starts (populateProcessEnvironment); same words, said earlier.
    const eq = pair.indexOf('=');
    if (eq < 0) throw err(field, `invalid environment variable: ${JSON.stringify(pair)}: each entry must look like NAME=value`);
    if (eq === 0) throw err(field, `environment variable name can't be empty: ${JSON.stringify(pair)}`);
    if (pair.slice(0, eq).includes('\0')) throw err(field, `environment variable name can't contain null(\\x00): ${JSON.stringify(pair)}`);
    if (pair.slice(eq + 1).includes('\0')) throw err(field, `environment variable value can't contain null(\\x00): ${JSON.stringify(pair)}`);
  }
}

const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** The namespace that isolates a sysctl (as runc's validator knows them), or undefined if none does. */
function sysctlNamespace(key: string): 'ipc' | 'network' | 'uts' | undefined {
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}

function nsFile(type: string): string {
  return ({ network: 'net', mount: 'mnt' } as Record<string, string>)[type] ?? type;
}

// ---------------------------------------------------------------------------------------------------

/**
 * Parse and check the text of a config.json. `file` is only used in messages.
 * Throws SpecError for malformed JSON, wrong types, missing required fields and unsupported features.
 */
export function parseSpec(text: string, file = 'config.json', onUnknownField?: (path: string) => void): Spec {
  const src = new Located(text, file);
  const root = parseJson(src);
  if (root.t !== 'object') {
    throw src.error(root.at, '', `config.json must hold one JSON object ({ ... }), but it holds ${describeNode(root)}`);
  }
  const locs: Locations = new Map();
  const unknown: string[] = [];
  const spec = convert(src, root, SPEC_SCHEMA, '', locs, unknown) as Spec;
  checkSpec(src, spec, locs);
  if (onUnknownField) unknown.forEach(onUnknownField);
  return spec;
}

/** Read and check `<bundleDir>/config.json`. Throws SpecError. */
export function loadSpec(bundleDir: string, onUnknownField?: (path: string) => void): Spec {
  const file = join(bundleDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SpecError(`config.json not found in ${bundleDir}: run \`tslab-runtime spec\` there to create one`, { file });
    }
    if (code === 'EISDIR') {
      throw new SpecError(`${file} is a directory, but it should be the bundle's configuration file`, { file });
    }
    if (code === 'EACCES') {
      throw new SpecError(`${file} cannot be read: permission denied`, { file });
    }
    throw new SpecError(`${file} cannot be read: ${(e as Error).message}`, { file });
  }
  return parseSpec(text, file, onUnknownField);
}

/**
 * The absolute path of the container's root filesystem: root.path as is when absolute, else joined to the
 * bundle. It must exist and be a directory. Like runc, the path must not go through a symbolic link
 * (runc: "invalid rootfs: not an absolute path, or a symlink").
 */
export function resolveRootfs(bundle: string, spec: Spec): string {
  if (!spec.root || spec.root.path === '') {
    throw new SpecError('root must be specified: config.json needs "root": { "path": "rootfs" }', { field: 'root' });
  }
  const rootfs = isAbsolute(spec.root.path) ? resolve(spec.root.path) : resolve(bundle, spec.root.path);
  let isDir: boolean;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : (e as Error).message;
    throw new SpecError(
      `invalid rootfs: ${rootfs} (from root.path ${JSON.stringify(spec.root.path)}) cannot be used: ${why}. ` +
        'Create it and put the container\'s files in it (a relative root.path is taken from the bundle directory).',
      { field: 'root.path' },
    );
  }
  if (!isDir) {
    throw new SpecError(`invalid rootfs: ${rootfs} (from root.path ${JSON.stringify(spec.root.path)}) is not a directory; it must be the directory that becomes the container's /`, {
      field: 'root.path',
    });
  }
  const real = realpathSync(rootfs);
  if (real !== rootfs) {
    throw new SpecError(
      `invalid rootfs: not an absolute path, or a symlink: ${rootfs} leads through a symbolic link to ${real}; ` +
        'like runc, tslab wants the real path, so set root.path (or the bundle path) to it',
      { field: 'root.path' },
    );
  }
  return rootfs;
}
