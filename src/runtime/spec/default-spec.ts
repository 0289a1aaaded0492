// The starter config.json that `runc spec` writes, and printing a spec the way runc prints it.

import { SPEC_SCHEMA, zeroOf, type Field, type Schema } from './decode.js';
import type { Spec } from './types.js';

/**
 * The same content as runc 1.1.5's `runc spec` (libcontainer/specconv/example.go), except that
 * `process.terminal` comes from `opts` (runc always writes true). The command is `["sh"]`, as in runc.
 */
export function defaultSpec(opts: { terminal: boolean }): Spec {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: opts.terminal,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...caps],
        effective: [...caps],
        permitted: [...caps],
        ambient: [...caps],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/**
 * Print a spec exactly as runc writes config.json (Go's json.MarshalIndent with a tab):
 * - fields in the order of runc's Go structs, whatever order the object has them in;
 * - fields Go marks `omitempty` left out when empty (so `"terminal": false` is not printed),
 *   pointer fields (umask, oomScoreAdj, memory.limit, ...) left out only when unset;
 * - map keys (annotations, sysctl, unified) sorted;
 * - strings escaped like Go: <, > and & as \u003c \u003e \u0026, control characters as \u00XX;
 * - tab indentation and **no** newline at the end (runc's file ends with `}`).
 * Fields the schema does not know are printed after the known ones, in the object's order
 * (runc would drop them).
 */
export function formatSpec(spec: Spec): string {
  return write(spec, SPEC_SCHEMA, '');
}

const INDENT = '\t';

function goString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&') out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd'; // a lone surrogate is not valid UTF-8: Go writes U+FFFD
    else out += ch;
  }
  return `${out}"`;
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value as object).length === 0;
  return false;
}

function isOmitted(field: Field, value: unknown): boolean {
  if (field.omit === 'nil') return value === undefined || value === null;
  if (field.omit === 'empty') return isEmpty(value);
  return false;
}

/** Byte order of UTF-8, as Go's sort.Strings orders map keys. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function writeMembers(members: [string, string][], indent: string): string {
  if (members.length === 0) return '{}';
  const inner = indent + INDENT;
  return `{\n${members.map(([k, v]) => `${inner}${goString(k)}: ${v}`).join(',\n')}\n${indent}}`;
}

function write(value: unknown, schema: Schema | undefined, indent: string): string {
  if (value === undefined || value === null) return 'null';
  if (schema?.kind === 'int' && typeof value === 'number' && Number.isInteger(value)) {
    // Integers beyond 2^53 were rounded when read; clamp to the Go type so 18446744073709551615 prints back as itself.
    let big = BigInt(value);
    if (big > schema.max) big = schema.max;
    if (big < schema.min) big = schema.min;
    return big.toString();
  }
  if (typeof value === 'string') return goString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'bigint') return value.toString();
  const inner = indent + INDENT;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const of = schema?.kind === 'array' ? schema.of : undefined;
    return `[\n${value.map((v) => inner + write(v, of, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof value !== 'object') return 'null';
  const obj = value as Record<string, unknown>;
  if (schema?.kind === 'map') {
    const keys = Object.keys(obj).sort(compareUtf8);
    return writeMembers(
      keys.map((k) => [k, write(obj[k], schema.of, inner)]),
      indent,
    );
  }
  const members: [string, string][] = [];
  const known = new Set<string>();
  if (schema?.kind === 'struct') {
    for (const field of schema.fields) {
      known.add(field.name);
      let v = Object.hasOwn(obj, field.name) ? obj[field.name] : undefined;
      if (isOmitted(field, v)) continue;
      if (v === undefined) v = zeroOf(field.schema, true);
      members.push([field.name, write(v, field.schema, inner)]);
    }
  }
  for (const key of Object.keys(obj)) {
    if (known.has(key) || obj[key] === undefined) continue;
    members.push([key, write(obj[key], undefined, inner)]);
  }
  return writeMembers(members, indent);
}
