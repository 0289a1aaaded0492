// From JSON nodes to typed values, checked against the schema of config.json.
//
// runc reads config.json with Go's encoding/json into the runtime-spec Go structs, and tslab copies the
// parts of that behaviour a config can notice:
//   - only the first JSON value in the file is read; anything after it is ignored (Go's json.Decoder);
//   - field names match case-insensitively when there is no exact match ("Process" fills `process`);
//   - unknown fields are ignored (kept in the result here, but never checked);
//   - `null` for a field leaves it unset; `null` inside a list or map becomes the zero value ("", 0, false);
//   - whole-number fields must be written as whole numbers (1, not 1.0 or 1e0) and fit their Go type
//     (uid is a uint32, rlimits are uint64, ...).

import type { JsonNode, Located } from './json.js';

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
// From JSON nodes to a typed value, checking types against the schema.

function childPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}.${name}`;
}

/** A JSON value in a sentence: "the number 1.5", "a list ([ ... ])". */
export function describeNode(node: JsonNode): string {
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
export type Locations = Map<string, number>;

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

/**
 * `node` as a value of `schema`, at JSON path `path`: fills `locs` with where each value starts and
 * `unknown` with the paths of fields the schema does not know. Throws SpecError on a wrong type.
 */
export function convert(src: Located, node: JsonNode, schema: Schema, path: string, locs: Locations, unknown: string[]): unknown {
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
    case 'struct':
      if (node.t !== 'object') return mismatch();
      return convertStruct(src, node, schema, path, locs, unknown);
  }
}

/** A JSON object as a struct: fields matched as Go's encoding/json matches them (exact name, else case-folded). */
function convertStruct(
  src: Located,
  node: Extract<JsonNode, { t: 'object' }>,
  schema: Extract<Schema, { kind: 'struct' }>,
  path: string,
  locs: Locations,
  unknown: string[],
): Record<string, unknown> {
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
