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

import * as fs from 'node:fs';
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import { NSFS_MAGIC, namespaceType } from '../../linux/nsfs.js';
import { fileKind, fstatfsType } from '../../linux/resolve.js';
import { isCapabilityName, capabilityNumber } from '../capabilities.js';
import { parsePropagation } from '../mount-options.js';
import { RLIM_INFINITY, isRlimitName, rlimitNumber } from '../rlimits.js';
import { seccompProblem } from './seccomp.js';
import { SpecError } from './errors.js';
import { sysctlName, sysctlNamespace } from './sysctl.js';
import { userNamespaceProblem } from './userns.js';
import type { Resources, Spec } from './types.js';

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
  | { kind: 'int'; min: bigint; max: bigint; goType: string; infinity?: bigint }
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
const u16: Schema = { kind: 'int', min: 0n, max: 0xffffn, goType: 'uint16' };
const u32: Schema = { kind: 'int', min: 0n, max: 0xffff_ffffn, goType: 'uint32' };
const u64: Schema = { kind: 'int', min: 0n, max: 0xffff_ffff_ffff_ffffn, goType: 'uint64' };
const i64: Schema = { kind: 'int', min: -(2n ** 63n), max: 2n ** 63n - 1n, goType: 'int64' };
/** An rlimit value: a uint64 where 2^64-1 (RLIM_INFINITY) means "no limit". */
const rlim: Schema = { kind: 'int', min: 0n, max: 0xffff_ffff_ffff_ffffn, goType: 'uint64', infinity: 0xffff_ffff_ffff_ffffn };
const arr = (of: Schema): Schema => ({ kind: 'array', of });
const map = (of: Schema): Schema => ({ kind: 'map', of });
const struct = (...fields: [string, Schema, OmitRule][]): Schema => ({
  kind: 'struct',
  fields: fields.map(([name, schema, omit]) => ({ name, schema, omit })),
});

const throttleDevice = struct(['major', i64, 'never'], ['minor', i64, 'never'], ['rate', u64, 'never']);
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
      ['rlimits', arr(struct(['type', str, 'never'], ['hard', rlim, 'never'], ['soft', rlim, 'never'])), 'empty'],
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
          [
            'blockIO',
            struct(
              ['weight', u16, 'nil'],
              ['leafWeight', u16, 'nil'],
              ['weightDevice', arr(struct(['major', i64, 'never'], ['minor', i64, 'never'], ['weight', u16, 'nil'], ['leafWeight', u16, 'nil'])), 'empty'],
              ['throttleReadBpsDevice', arr(throttleDevice), 'empty'],
              ['throttleWriteBpsDevice', arr(throttleDevice), 'empty'],
              ['throttleReadIOPSDevice', arr(throttleDevice), 'empty'],
              ['throttleWriteIOPSDevice', arr(throttleDevice), 'empty'],
            ),
            'nil',
          ],
          ['hugepageLimits', arr(struct(['pageSize', str, 'never'], ['limit', u64, 'never'])), 'empty'],
          ['network', struct(['classID', u32, 'nil'], ['priorities', arr(struct(['name', str, 'never'], ['priority', u32, 'never'])), 'empty']), 'nil'],
          ['rdma', map(struct(['hcaHandles', u32, 'nil'], ['hcaObjects', u32, 'nil'])), 'empty'],
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
      [
        'seccomp',
        struct(
          ['defaultAction', str, 'never'],
          ['defaultErrnoRet', u64, 'nil'],
          ['architectures', arr(str), 'empty'],
          ['flags', arr(str), 'empty'],
          ['listenerPath', str, 'empty'],
          ['listenerMetadata', str, 'empty'],
          [
            'syscalls',
            arr(
              struct(
                ['names', arr(str), 'never'],
                ['action', str, 'never'],
                ['errnoRet', u64, 'nil'],
                ['args', arr(struct(['index', u64, 'never'], ['value', u64, 'never'], ['valueTwo', u64, 'empty'], ['op', str, 'never'])), 'empty'],
              ),
            ),
            'empty',
          ],
        ),
        'nil',
      ],
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

/**
 * How deeply objects and lists may nest. The reader (and the conversion after it) recurse once per level:
 * a hostile file of a million '[' would otherwise end in a stack overflow instead of a sentence. Go's
 * reader, which runc uses, stops at 10000; this stays well inside Node's default stack.
 */
const MAX_DEPTH = 1000;

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

  let depth = 0;
  const nested = (at: number, read: () => JsonNode): JsonNode => {
    if (++depth > MAX_DEPTH) {
      throw src.error(at, '', `objects and lists are nested more than ${MAX_DEPTH} levels deep here; no config.json needs that many (runc's default nests 4)`);
    }
    const node = read();
    depth--;
    return node;
  };

  const value = (): JsonNode => {
    skipSpace();
    const at = i;
    const c = text[i];
    if (c === '{') return nested(at, object);
    if (c === '[') return nested(at, array);
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

  // The longest run of characters a string holds as they are: copied in one slice, so a 50 MB string
  // costs one scan rather than 50 million one-character concatenations.
  const plainRun = /[^"\\\u0000-\u001f]*/y;

  const string = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      plainRun.lastIndex = i;
      plainRun.test(text);
      if (plainRun.lastIndex > i) {
        out += text.slice(i, plainRun.lastIndex);
        i = plainRun.lastIndex;
      }
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

/**
 * The value Go leaves in a field that JSON did not fill. Its slices and maps are nil: empty ones here, to be
 * iterated, or, `asPrinted`, null, as Go's encoder writes nil.
 */
export function zeroOf(schema: Schema, asPrinted = false): unknown {
  switch (schema.kind) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int':
      return 0;
    case 'array':
      return asPrinted ? null : [];
    case 'map':
      return asPrinted ? null : {};
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const f of schema.fields) if (f.omit === 'never') out[f.name] = zeroOf(f.schema, asPrinted);
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
  // A plain assignment is much cheaper for a map of many thousand keys; only "__proto__" needs defining.
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
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
      const n = Number(node.raw);
      // Numbers are JavaScript doubles here: past 2^53 they would silently become a neighbouring value
      // (2^53+1 reads as 2^53) on their way to a syscall. Only RLIM_INFINITY keeps its meaning when rounded.
      if (!Number.isSafeInteger(n) && BigInt(node.raw) !== schema.infinity) {
        const infinity = schema.infinity === undefined ? '' : `, or ${schema.infinity} for no limit`;
        throw src.error(
          node.at,
          path,
          `${path} is ${node.raw}, which is beyond the largest whole number tslab handles exactly (${Number.MAX_SAFE_INTEGER}, 2^53-1): use a smaller value${infinity}`,
        );
      }
      return n;
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

  checkId('process.user.uid', proc.user.uid);
  checkId('process.user.gid', proc.user.gid);
  const groups = proc.user.additionalGids ?? [];
  groups.forEach((gid, i) => checkId(`process.user.additionalGids[${i}]`, gid));
  if (groups.length > NGROUPS_MAX) {
    throw err('process.user.additionalGids', `process.user.additionalGids lists ${groups.length} groups, but a process can be in at most ${NGROUPS_MAX} (NGROUPS_MAX)`);
  }
  if (proc.user.umask !== undefined && proc.user.umask > 0o777) {
    throw err('process.user.umask', `process.user.umask is ${proc.user.umask} (0${proc.user.umask.toString(8)} in octal), but a umask holds permission bits only: 0 to 511 (0777 in octal), like 18 for 022`);
  }
  for (const side of ['height', 'width'] as const) {
    const n = proc.consoleSize?.[side];
    if (n !== undefined && n > 0xffff) {
      throw err(`process.consoleSize.${side}`, `process.consoleSize.${side} is ${n}, but a terminal's size is counted in 16 bits: at most 65535 rows or columns`);
    }
  }
  if (proc.oomScoreAdj !== undefined && (proc.oomScoreAdj < -1000 || proc.oomScoreAdj > 1000)) {
    throw err('process.oomScoreAdj', `process.oomScoreAdj is ${proc.oomScoreAdj}, but the kernel takes -1000 (never kill) to 1000 (kill first) in /proc/<pid>/oom_score_adj`);
  }

  // Confinement tslab cannot apply is refused rather than dropped: the process would run less confined than asked.
  if (proc.selinuxLabel) {
    throw err('process.selinuxLabel', 'selinux label is specified in config, but selinux is disabled or not supported: tslab does not apply SELinux labels; remove process.selinuxLabel');
  }
  if (proc.apparmorProfile) {
    throw err('process.apparmorProfile', `process.apparmorProfile is ${JSON.stringify(proc.apparmorProfile)}, but tslab cannot apply AppArmor profiles (runc would, where AppArmor is enabled); remove it to run without one`);
  }

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

  for (const field of ['hostname', 'domainname'] as const) {
    const name = spec[field];
    if (name === undefined) continue;
    noNul(field, name);
    if (Buffer.byteLength(name) > UTS_NAME_MAX) {
      throw err(field, `${field} is ${Buffer.byteLength(name)} bytes long, but the kernel keeps at most ${UTS_NAME_MAX} bytes for it (sethostname(2) and setdomainname(2) refuse more)`);
    }
  }

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
    // A mount over the root itself would hide the rootfs the rest is built in (fuzz case 473: a bind onto
    // "/mnt/../../.." and then proc onto "/" made the stage spin).
    if (resolve('/', m.destination) === '/') {
      throw err(`${at}.destination`, `${at}.destination ${JSON.stringify(m.destination)} is the container's root itself; a mount must go on a directory inside the root filesystem (root.path is the root)`);
    }
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
        // Node's timers hold at most 2^31-1 ms: a longer timeout would fire after 1 ms, failing the hook at once.
        if (h.timeout !== undefined && h.timeout > MAX_HOOK_TIMEOUT) {
          throw err(`${at}.timeout`, `${at}.timeout is ${h.timeout} seconds, but tslab waits at most ${MAX_HOOK_TIMEOUT} seconds (24 days) for a hook`);
        }
        (h.env ?? []).forEach((pair, j) => checkEnv(`${at}.env[${j}]`, pair));
      });
    }
  }

  // linux
  const linux = spec.linux;
  const namespaces = new Set<string>();
  if (linux) {
    if (linux.seccomp) {
      const problem = seccompProblem(linux.seccomp);
      if (problem) throw err(problem.field, problem.sentence);
    }
    for (const kind of ['uidMappings', 'gidMappings'] as const) {
      (linux[kind] ?? []).forEach((m, i) => {
        checkId(`linux.${kind}[${i}].containerID`, m.containerID);
        checkId(`linux.${kind}[${i}].hostID`, m.hostID);
        if (m.size > MAX_ID + 1 - Math.max(m.containerID, m.hostID)) {
          throw err(`linux.${kind}[${i}].size`, `linux.${kind}[${i}].size is ${m.size}: the mapping would reach past ${MAX_ID}, the largest uid or gid`);
        }
      });
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
    const userProblem = userNamespaceProblem(spec);
    if (userProblem) throw err(userProblem.field, userProblem.sentence);
    (linux.devices ?? []).forEach((d, i) => {
      const at = `linux.devices[${i}]`;
      noNul(`${at}.path`, d.path);
      if (d.type !== 'p') {
        // mknod(2) takes a 32-bit dev_t: a larger major or minor would silently make another device.
        if ((d.major ?? 0) < 0 || (d.major ?? 0) > MAX_MAJOR) {
          throw err(`${at}.major`, `${at}.major is ${d.major}, but a device major number goes from 0 to ${MAX_MAJOR}`);
        }
        if ((d.minor ?? 0) < 0 || (d.minor ?? 0) > MAX_MINOR) {
          throw err(`${at}.minor`, `${at}.minor is ${d.minor}, but a device minor number goes from 0 to ${MAX_MINOR}`);
        }
      }
      if (d.fileMode !== undefined && d.fileMode > 0o7777) {
        throw err(`${at}.fileMode`, `${at}.fileMode is ${d.fileMode} (0${d.fileMode.toString(8)} in octal), but it holds permission bits only: 0 to 4095 (07777 in octal), like 438 for 0666`);
      }
      if (d.uid !== undefined) checkId(`${at}.uid`, d.uid);
      if (d.gid !== undefined) checkId(`${at}.gid`, d.gid);
    });
    checkResources(linux.resources, err);
    // Settings tslab has no means to apply are refused, never dropped: the container would differ from its config.
    if (linux.mountLabel) {
      throw err('linux.mountLabel', 'linux.mountLabel is set, but SELinux is disabled or not supported: tslab does not apply SELinux labels to mounts; remove linux.mountLabel');
    }
    if (linux.intelRdt !== undefined && linux.intelRdt !== null) {
      throw err('linux.intelRdt', 'linux.intelRdt is set, but Intel RDT (cache and memory bandwidth allocation through /sys/fs/resctrl) is not supported by tslab; remove linux.intelRdt');
    }
    if (linux.personality !== undefined && linux.personality !== null) {
      throw err('linux.personality', 'linux.personality is set, but tslab does not change the execution domain (personality(2)); remove linux.personality');
    }
    (linux.maskedPaths ?? []).forEach((p, i) => noNul(`linux.maskedPaths[${i}]`, p));
    (linux.readonlyPaths ?? []).forEach((p, i) => noNul(`linux.readonlyPaths[${i}]`, p));
  }

  // runc's config validator (libcontainer/configs/validate): things that need their namespace.
  if (spec.hostname !== undefined && spec.hostname !== '' && !namespaces.has('uts')) {
    throw err('hostname', 'unable to set hostname without a private UTS namespace: add {"type": "uts"} to linux.namespaces, or remove "hostname"');
  }
  if (spec.domainname !== undefined && spec.domainname !== '' && !namespaces.has('uts')) {
    throw err('domainname', 'unable to set domainname without a private UTS namespace: add {"type": "uts"} to linux.namespaces, or remove "domainname"');
  }
  if (((linux?.maskedPaths ?? []).length > 0 || (linux?.readonlyPaths ?? []).length > 0) && !namespaces.has('mount')) {
    throw err(
      (linux?.maskedPaths ?? []).length > 0 ? 'linux.maskedPaths' : 'linux.readonlyPaths',
      'unable to restrict sys entries without a private MNT namespace: maskedPaths and readonlyPaths need {"type": "mount"} in linux.namespaces',
    );
  }

  for (const [key, value] of Object.entries(linux?.sysctl ?? {})) {
    const at = `linux.sysctl[${JSON.stringify(key)}]`;
    const name = sysctlName(key);
    // An empty part names no sysctl. (On its way to a path under /proc/sys every dot becomes a slash, so
    // "net.ipv4.conf.all/../../../kernel/hostname" cannot climb out of net/; runc then fails with ENOENT.)
    if (name.split(/[./]/).some((part) => part === '')) {
      throw err(at, `sysctl ${JSON.stringify(key)} is not a sysctl name: names are parts separated by dots (or slashes), like "net.ipv4.ip_forward", with no empty part and no ".."`);
    }
    noNul(at, value);
    const needed = sysctlNamespace(name);
    if (needed === 'ipc' && !namespaces.has('ipc')) {
      throw err(at, `sysctl ${JSON.stringify(name)} is not allowed in the hosts ipc namespace: add {"type": "ipc"} to linux.namespaces`);
    }
    if (needed === 'network' && !namespaces.has('network')) {
      throw err(at, `sysctl ${JSON.stringify(name)} not allowed in host network namespace: add {"type": "network"} to linux.namespaces`);
    }
    if (name === 'kernel.hostname' && namespaces.has('uts')) {
      throw err(at, `sysctl ${JSON.stringify(name)} is not allowed as it conflicts with the OCI "hostname" field: set "hostname" instead`);
    }
    if (needed === undefined || (needed === 'uts' && !namespaces.has('uts'))) {
      throw err(at, `sysctl ${JSON.stringify(name)} is not in a separate kernel namespace: setting it would change the host for everyone`);
    }
  }

  function checkId(field: string, id: number): void {
    if (id < 0 || id > MAX_ID) {
      // Above it, 4294967295 is -1 to setresuid(2) and chown(2): "leave unchanged", so a process would stay root.
      throw err(field, `${field} is ${id}, but uids and gids must be in range 0-${MAX_ID}`);
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

/** linux.resources: values the kernel would refuse, or that would not stay one cgroup command. */
function checkResources(resources: Resources | undefined, err: (field: string, sentence: string) => SpecError): void {
  (resources?.devices ?? []).forEach((rule, i) => {
    for (const side of ['major', 'minor'] as const) {
      const n = rule[side];
      if (n !== undefined && (n < -1 || n > 0xffff_ffff)) {
        throw err(`linux.resources.devices[${i}].${side}`, `linux.resources.devices[${i}].${side} is ${n}, but a device rule's ${side} number is -1 (any) or 0 to 4294967295`);
      }
    }
  });
  const cpu = resources?.cpu;
  if (cpu?.period !== undefined && cpu.period !== 0 && (cpu.period < 1000 || cpu.period > 1_000_000)) {
    throw err('linux.resources.cpu.period', `linux.resources.cpu.period is ${cpu.period}, but the kernel takes a CFS period of 1000 to 1000000 microseconds (1 ms to 1 s)`);
  }
  // A negative quota means "no limit" to the kernel; 0 means "not set" to runc.
  if (cpu?.quota !== undefined && cpu.quota > 0 && (cpu.quota < 1000 || cpu.quota > CFS_QUOTA_MAX)) {
    throw err('linux.resources.cpu.quota', `linux.resources.cpu.quota is ${cpu.quota}, but a CFS quota is -1 (no limit) or 1000 to ${CFS_QUOTA_MAX} microseconds per period`);
  }
  if (cpu?.idle !== undefined && cpu.idle !== 0 && cpu.idle !== 1) {
    throw err('linux.resources.cpu.idle', `linux.resources.cpu.idle is ${cpu.idle}, but it is 0 or 1`);
  }
  const memory = resources?.memory;
  for (const field of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP'] as const) {
    const n = memory?.[field];
    if (n !== undefined && n < -1) {
      throw err(`linux.resources.memory.${field}`, `linux.resources.memory.${field} is ${n}, but it is -1 (no limit) or a number of bytes`);
    }
  }
  if (memory?.swappiness !== undefined && memory.swappiness > 100) {
    throw err('linux.resources.memory.swappiness', `linux.resources.memory.swappiness is ${memory.swappiness}, but it goes from 0 to 100`);
  }
  // Each value below ends up in a one-line cgroup command: numbers in range, names without separators.
  const blockIO = resources?.blockIO;
  const weight = (field: string, n: number | undefined): void => {
    if (n !== undefined && n !== 0 && (n < 10 || n > 1000)) throw err(field, `${field} is ${n}, but a block I/O weight goes from 10 to 1000 (0: not set)`);
  };
  const device = (field: string, d: { major: number; minor: number }): void => {
    if (d.major < 0 || d.major > MAX_MAJOR) throw err(`${field}.major`, `${field}.major is ${d.major}, but a device major number goes from 0 to ${MAX_MAJOR}`);
    if (d.minor < 0 || d.minor > MAX_MINOR) throw err(`${field}.minor`, `${field}.minor is ${d.minor}, but a device minor number goes from 0 to ${MAX_MINOR}`);
  };
  weight('linux.resources.blockIO.weight', blockIO?.weight);
  weight('linux.resources.blockIO.leafWeight', blockIO?.leafWeight);
  (blockIO?.weightDevice ?? []).forEach((d, i) => {
    const at = `linux.resources.blockIO.weightDevice[${i}]`;
    device(at, d);
    weight(`${at}.weight`, d.weight);
    weight(`${at}.leafWeight`, d.leafWeight);
  });
  for (const list of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
    (blockIO?.[list] ?? []).forEach((d, i) => device(`linux.resources.blockIO.${list}[${i}]`, d));
  }
  (resources?.hugepageLimits ?? []).forEach((h, i) => {
    if (!/^[1-9][0-9]{0,5}(KB|MB|GB)$/.test(h.pageSize)) {
      throw err(`linux.resources.hugepageLimits[${i}].pageSize`, `linux.resources.hugepageLimits[${i}].pageSize is ${JSON.stringify(h.pageSize)}, but a huge page size is written like "2MB" or "1GB"`);
    }
  });
  (resources?.network?.priorities ?? []).forEach((p, i) => {
    // The kernel's own rule for interface names (dev_valid_name): 1 to 15 bytes, no '/', ':' or white space.
    if (!/^[^/:\s]{1,15}$/.test(p.name) || p.name === '.' || p.name === '..' || Buffer.byteLength(p.name) > 15) {
      throw err(`linux.resources.network.priorities[${i}].name`, `linux.resources.network.priorities[${i}].name is ${JSON.stringify(p.name)}, but a network interface name is 1 to 15 bytes without "/", ":" or white space`);
    }
  });
  for (const name of Object.keys(resources?.rdma ?? {})) {
    if (!/^[^\s]{1,64}$/.test(name)) {
      throw err('linux.resources.rdma', `linux.resources.rdma names the device ${JSON.stringify(name)}, but an RDMA device name has no white space (like "mlx5_1")`);
    }
  }
}

/** The longest hook timeout in seconds: Node's timers count at most 2^31-1 milliseconds. */
const MAX_HOOK_TIMEOUT = Math.floor((2 ** 31 - 1) / 1000);
/** The largest uid or gid runc accepts (libcontainer/user: "uids and gids must be in range 0-2147483647"). */
const MAX_ID = 2147483647;
/** The most supplementary groups a process can have (NGROUPS_MAX, linux/limits.h). */
const NGROUPS_MAX = 65536;
/** The longest hostname or domainname (__NEW_UTS_LEN). */
const UTS_NAME_MAX = 64;
/** The kernel's dev_t in mknod(2): 12 bits of major, 20 of minor. */
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xf_ffff;
/** The largest CFS quota the kernel takes, in microseconds (kernel/sched/core.c: max_cfs_runtime, 2^44-1 us, ~203 days). */
const CFS_QUOTA_MAX = 17_592_186_044_415;

/** CLONE_NEW* of each namespace type tslab can join (NS_GET_NSTYPE answers with these). */
const CLONE_FLAGS: Record<string, number> = {
  mount: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  time: 0x00000080,
};

/**
 * Checks what config.json names on this machine, as runc's validator does and a little more:
 *   - each namespace path is a namespace file of its type, looked at without blocking (a FIFO there would
 *     hang a blocking open for ever);
 *   - a net.* sysctl does not go to the runtime's own network namespace (runc: isHostNetNS, comparing
 *     device and inode with /proc/self/ns/net), even when that namespace is joined by a path;
 *   - likewise, beyond runc, an IPC sysctl to the runtime's own IPC namespace, and a hostname, domainname or
 *     kernel.domainname to its own UTS namespace: each would change the host for everyone.
 */
function checkAgainstHost(src: Located, spec: Spec, locs: Locations): void {
  const err = (field: string, sentence: string): SpecError => src.error(locs.get(field), field, sentence);
  const joined = new Map<string, { index: number; path: string; dev: number; ino: number }>();
  (spec.linux?.namespaces ?? []).forEach((ns, index) => {
    if (!ns.path) return;
    const at = `linux.namespaces[${index}].path`;
    const like = `a file like /proc/<pid>/ns/${nsFile(ns.type)}, or one that \`ip netns add\` bind-mounted`;
    let fd: number;
    try {
      fd = fs.openSync(ns.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be opened: permission denied' : `cannot be opened (${code ?? (e as Error).message})`;
      throw err(at, `${at} ${JSON.stringify(ns.path)} ${why}: it must name the ${ns.type} namespace to join, ${like}`);
    }
    try {
      let type: number | undefined;
      try {
        if (fstatfsType(fd, ns.path) === NSFS_MAGIC) type = namespaceType(fd, ns.path);
      } catch {
        // Not a namespace file: said below with what it is.
      }
      const st = fs.fstatSync(fd);
      if (type === undefined) {
        throw err(at, `${at} ${JSON.stringify(ns.path)} is ${fileKind(st)}, not a namespace file: to join a ${ns.type} namespace give ${like}`);
      }
      if (type !== CLONE_FLAGS[ns.type]) {
        const actual = Object.keys(CLONE_FLAGS).find((name) => CLONE_FLAGS[name] === type) ?? `an unknown (0x${type.toString(16)})`;
        throw err(at, `${at} ${JSON.stringify(ns.path)} is a ${actual} namespace, but linux.namespaces[${index}] is of type ${ns.type}: give ${like}`);
      }
      joined.set(ns.type, { index, path: ns.path, dev: st.dev, ino: st.ino });
    } finally {
      fs.closeSync(fd);
    }
  });

  /** The sentence's end when `type` is joined by a path that is the runtime's own namespace, else undefined. */
  const ownNamespace = (type: string): string | undefined => {
    const ns = joined.get(type);
    if (!ns) return undefined;
    const own = fs.statSync(`/proc/self/ns/${nsFile(type)}`);
    if (own.dev !== ns.dev || own.ino !== ns.ino) return undefined;
    return `linux.namespaces[${ns.index}].path ${JSON.stringify(ns.path)} is the host's own ${type} namespace (the one this runtime runs in), so this would change the host`;
  };

  // Beyond runc: the host's own mount namespace joined by path would run the container in the host's file
  // system, root.path and every mount silently skipped (a joined mount namespace is taken as set up already).
  const hostMounts = ownNamespace('mount');
  if (hostMounts) {
    const at = `linux.namespaces[${joined.get('mount')!.index}].path`;
    throw err(at, `the container cannot join the host's mount namespace: ${hostMounts} (its root.path and mounts would be ignored and it would see the host's files); leave the path out to give it a mount namespace of its own`);
  }

  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    const name = sysctlName(key);
    const type = name === 'kernel.domainname' ? 'uts' : sysctlNamespace(name);
    const host = type && ownNamespace(type);
    if (!host) continue;
    const at = `linux.sysctl[${JSON.stringify(key)}]`;
    if (type === 'network') throw err(at, `sysctl ${JSON.stringify(name)} not allowed in host network namespace: ${host}`);
    if (type === 'ipc') throw err(at, `sysctl ${JSON.stringify(name)} is not allowed in the hosts ipc namespace: ${host}`);
    throw err(at, `sysctl ${JSON.stringify(name)} is not allowed in the host's UTS namespace: ${host}`);
  }
  // The kernel refuses an open-file limit above fs.nr_open with EPERM, even for root (and "no limit" is above it).
  (spec.process?.rlimits ?? []).forEach((rl, i) => {
    if (rl.type !== 'RLIMIT_NOFILE') return;
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    for (const side of ['soft', 'hard'] as const) {
      if (rl[side] > nrOpen) {
        const value = rl[side] >= 2 ** 64 - 1 ? `${RLIM_INFINITY} (no limit)` : String(rl[side]);
        throw err(`process.rlimits[${i}].${side}`, `process.rlimits[${i}].${side} is ${value}, but RLIMIT_NOFILE can be at most fs.nr_open (${nrOpen} here): setrlimit(2) refuses more, even for root`);
      }
    }
  });

  for (const field of ['hostname', 'domainname'] as const) {
    const host = spec[field] ? ownNamespace('uts') : undefined;
    if (host) throw err(field, `unable to set ${field} in the host's UTS namespace: ${host}`);
  }
}

function nsFile(type: string): string {
  return ({ network: 'net', mount: 'mnt' } as Record<string, string>)[type] ?? type;
}

// ---------------------------------------------------------------------------------------------------

/**
 * Parse and check the text of a config.json. `file` is only used in messages. With `checkHost`, also check
 * what it names on this machine (see checkAgainstHost). Throws SpecError for malformed JSON, wrong types, missing required fields and unsupported features.
 */
export function parseSpec(text: string, file = 'config.json', onUnknownField?: (path: string) => void, checkHost = false): Spec {
  const src = new Located(text, file);
  const root = parseJson(src);
  if (root.t !== 'object') {
    throw src.error(root.at, '', `config.json must hold one JSON object ({ ... }), but it holds ${describeNode(root)}`);
  }
  const locs: Locations = new Map();
  const unknown: string[] = [];
  const spec = convert(src, root, SPEC_SCHEMA, '', locs, unknown) as Spec;
  checkSpec(src, spec, locs);
  if (checkHost) checkAgainstHost(src, spec, locs);
  if (onUnknownField) unknown.forEach(onUnknownField);
  return spec;
}

/** The schema of linux.resources alone, for `update --resources`. */
const RESOURCES_SCHEMA: Schema = fieldSchema(fieldSchema(SPEC_SCHEMA, 'linux'), 'resources');

function fieldSchema(schema: Schema, name: string): Schema {
  const field = schema.kind === 'struct' ? schema.fields.find((f) => f.name === name) : undefined;
  if (!field) throw new Error(`no field ${name} in the config.json schema`);
  return field.schema;
}

/**
 * Parse and check a LinuxResources document (`update -r FILE`), read as config.json's linux.resources is:
 * the same types, the same checks. Throws SpecError.
 */
export function parseResources(text: string, file: string): Resources {
  const src = new Located(text, file);
  const root = parseJson(src);
  if (root.t !== 'object') {
    throw src.error(root.at, '', `${file} must hold one JSON object ({ "memory": ..., "cpu": ... }), but it holds ${describeNode(root)}`);
  }
  const locs: Locations = new Map();
  const resources = convert(src, root, RESOURCES_SCHEMA, 'linux.resources', locs, []) as Resources;
  checkResources(resources, (field, sentence) => src.error(locs.get(field), field, sentence));
  return resources;
}

/**
 * The most config.json may hold. runc reads any size; but the whole document is copied to the init stage,
 * its annotations into state.json and onto every hook's stdin, so a huge one is never meant. For scale:
 * runc's default is ~2.5 KB, one with docker's seccomp profile ~60 KB, and Kubernetes caps all of a pod's
 * annotations together at 256 KiB. 4 MiB leaves room for all of that many times over.
 */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Size in a sentence: 4 MiB, 52 MB... */
function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}

/**
 * The text of `<bundleDir>/config.json`, read as hostile input: opened without blocking (a FIFO would
 * otherwise wait for a writer for ever), only a regular file (not /dev/zero, which never ends), and at most
 * MAX_CONFIG_BYTES. Like runc, a symbolic link is followed: what it leads to must be a regular file.
 * Throws SpecError.
 */
export function readConfigText(bundleDir: string): { file: string; text: string } {
  const file = join(bundleDir, 'config.json');
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SpecError(`config.json not found in ${bundleDir}: run \`tslab-runtime spec\` there to create one`, { file });
    }
    if (code === 'EACCES') throw new SpecError(`${file} cannot be read: permission denied`, { file });
    if (code === 'ELOOP') throw new SpecError(`${file} cannot be read: it is a symbolic link in a loop (ELOOP)`, { file });
    throw new SpecError(`${file} cannot be opened: ${code ?? (e as Error).message}`, { file });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new SpecError(`${file} is ${fileKind(st)}, but the bundle's configuration must be a regular file (a JSON document)`, { file });
    }
    // Read until the end of the file, whatever fstat said (it may grow meanwhile), but never past the cap.
    let buf = Buffer.alloc(Math.min(st.size, MAX_CONFIG_BYTES) + 1);
    let length = 0;
    for (;;) {
      if (length === buf.length) buf = Buffer.concat([buf, Buffer.alloc(Math.min(buf.length, MAX_CONFIG_BYTES + 1 - length))]);
      const n = fs.readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_CONFIG_BYTES) {
        throw new SpecError(
          `${file} is larger than ${mebibytes(MAX_CONFIG_BYTES)} (${Math.max(st.size, length)} bytes or more), the most tslab reads: a config.json is normally a few kilobytes; is this the bundle's real configuration?`,
          { file },
        );
      }
    }
    return { file, text: buf.subarray(0, length).toString('utf8') };
  } catch (e) {
    if (e instanceof SpecError) throw e;
    throw new SpecError(`${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Read and check `<bundleDir>/config.json`, then what it names on this host: namespace files, and that
 * sysctls, hostname and domainname land in namespaces of the container's own. Throws SpecError.
 */
export function loadSpec(bundleDir: string, onUnknownField?: (path: string) => void): Spec {
  const { file, text } = readConfigText(bundleDir);
  return parseSpec(text, file, onUnknownField, true);
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
  // The stage builds /dev (nodes, the /dev/ptmx link) and more inside the root: on the host's own / (or a
  // bind mount of it) that would change the host's devtmpfs. The fuzzer found it replacing /dev/ptmx.
  const [rootStat, hostRoot] = [statSync(real), statSync('/')];
  if (rootStat.dev === hostRoot.dev && rootStat.ino === hostRoot.ino) {
    throw new SpecError(
      `invalid rootfs: ${rootfs} (from root.path ${JSON.stringify(spec.root.path)}) is the host's own root directory; ` +
        "the runtime creates device nodes and links in a container's root, which would change the host: give the container a root filesystem of its own",
      { field: 'root.path' },
    );
  }
  return rootfs;
}
