// The image config is text from whoever made the image. The engine turns its User, WorkingDir, Env,
// Entrypoint and Cmd into a container's process, so each is checked here, when an image is loaded (and
// before an import or pull tags it): the type it must have, lengths the kernel would refuse anyway
// (MAX_ARG_STRLEN, PATH_MAX), no NUL bytes, Env entries of the form NAME=VALUE (an entry without '=' is,
// for the engine as for docker's -e, the name of a variable to copy from tslab's own environment), and
// numeric ids in runc's range. What comes out is a copy holding only the fields tslab reads.
import { MAX_ID } from '../linux/id-range.js';
import { isDigest } from './digest.js';

export class ImageConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageConfigError';
  }
}

export interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, object>;
  StopSignal?: string;
  Labels?: Record<string, string>;
}

export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: ImageConfig;
  rootfs: { diff_ids: string[] };
}

/** Layers an image may have (docker's limit is 125; overlayfs mount options must fit a page anyway). */
export const MAX_LAYERS = 128;
const MAX_ARG = 128 * 1024 - 1; // MAX_ARG_STRLEN, less its NUL
const MAX_ARGS = 4096;
const MAX_ARGV_ENV_BYTES = 1024 * 1024; // well inside ARG_MAX
const MAX_PATH = 4095;
const MAX_LABELS = 4096;
const MAX_LABEL_BYTES = 64 * 1024;

function fail(what: string, problem: string): never {
  throw new ImageConfigError(`${what}: ${problem}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkString(v: unknown, field: string, what: string, max: number): string {
  if (typeof v !== 'string') fail(what, `${field} is ${v === null ? 'null' : typeof v}, not a string`);
  if (v.includes('\0')) fail(what, `${field} contains a NUL byte`);
  const bytes = Buffer.byteLength(v);
  if (bytes > max) fail(what, `${field} is ${bytes} bytes long, more than the ${max} tslab accepts`);
  return v;
}

function checkStrings(v: unknown, field: string, what: string): string[] {
  if (!Array.isArray(v)) fail(what, `${field} is ${v === null ? 'null' : typeof v}, not a list of strings`);
  if (v.length > MAX_ARGS) fail(what, `${field} has ${v.length} entries, more than the ${MAX_ARGS} tslab accepts`);
  return v.map((s, i) => checkString(s, `${field}[${i}]`, what, MAX_ARG));
}

function checkUser(v: unknown, what: string): string {
  const user = checkString(v, 'User', what, 256);
  if (user === '') return user;
  // user[:group], each a name or a number; a name holds no ':' and no white space (it is looked up in /etc/passwd).
  const parts = user.split(':');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z0-9_.][A-Za-z0-9_.$-]*$/.test(p))) {
    fail(what, `User ${JSON.stringify(user.slice(0, 64))} is not user[:group] with names or numbers`);
  }
  for (const p of parts) {
    if (/^\d+$/.test(p) && !(Number(p) <= MAX_ID)) fail(what, `User ${JSON.stringify(user)} has the id ${p}, outside 0-${MAX_ID}`);
  }
  return user;
}

function checkEnv(v: unknown, what: string): string[] {
  const env = checkStrings(v, 'Env', what);
  for (const [i, entry] of env.entries()) {
    if (!/^[^=]+=/.test(entry)) fail(what, `Env[${i}] is not NAME=VALUE (a name, then '=')`);
  }
  return env;
}

function checkLabels(v: unknown, what: string): Record<string, string> {
  if (!isObject(v)) fail(what, 'Labels is not an object');
  const entries = Object.entries(v);
  if (entries.length > MAX_LABELS) fail(what, `Labels has ${entries.length} entries, more than the ${MAX_LABELS} tslab accepts`);
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    checkString(key, 'a Labels key', what, 1024);
    out[key] = checkString(value, `Labels[${JSON.stringify(key.slice(0, 64))}]`, what, MAX_LABEL_BYTES);
  }
  return out;
}

function checkPorts(v: unknown, what: string): Record<string, object> {
  if (!isObject(v)) fail(what, 'ExposedPorts is not an object');
  const keys = Object.keys(v);
  if (keys.length > 65536 * 2) fail(what, `ExposedPorts has ${keys.length} entries`);
  const out: Record<string, object> = {};
  for (const key of keys) {
    if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(key)) fail(what, `ExposedPorts has ${JSON.stringify(key.slice(0, 64))}, not PORT[/tcp|udp|sctp]`);
    out[key] = {};
  }
  return out;
}

/** The process fields of an image config ("config" in the config file), checked; see the top of the file. */
function checkProcessConfig(v: unknown, what: string): ImageConfig {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail(what, 'its "config" is not an object');
  const out: ImageConfig = {};
  let argBytes = 0;
  for (const field of ['Entrypoint', 'Cmd'] as const) {
    if (v[field] === undefined) continue;
    if (v[field] === null) {
      out[field] = null;
      continue;
    }
    out[field] = checkStrings(v[field], field, what);
    argBytes += out[field].reduce((sum, s) => sum + Buffer.byteLength(s) + 1, 0);
  }
  if (v.Env !== undefined && v.Env !== null) {
    out.Env = checkEnv(v.Env, what);
    argBytes += out.Env.reduce((sum, s) => sum + Buffer.byteLength(s) + 1, 0);
  }
  if (argBytes > MAX_ARGV_ENV_BYTES) fail(what, `Entrypoint, Cmd and Env hold ${argBytes} bytes together, more than the ${MAX_ARGV_ENV_BYTES} tslab accepts`);
  if (v.WorkingDir !== undefined && v.WorkingDir !== null) {
    const dir = checkString(v.WorkingDir, 'WorkingDir', what, MAX_PATH);
    if (dir !== '' && !dir.startsWith('/')) fail(what, `WorkingDir ${JSON.stringify(dir.slice(0, 64))} is not an absolute path`);
    out.WorkingDir = dir;
  }
  if (v.User !== undefined && v.User !== null) out.User = checkUser(v.User, what);
  if (v.StopSignal !== undefined && v.StopSignal !== null) {
    const signal = checkString(v.StopSignal, 'StopSignal', what, 32);
    if (!/^(SIG)?[A-Z0-9+-]+$/i.test(signal)) fail(what, `StopSignal ${JSON.stringify(signal)} is not a signal name or number`);
    out.StopSignal = signal;
  }
  if (v.ExposedPorts !== undefined && v.ExposedPorts !== null) out.ExposedPorts = checkPorts(v.ExposedPorts, what);
  if (v.Labels !== undefined && v.Labels !== null) out.Labels = checkLabels(v.Labels, what);
  return out;
}

/** An image config file (the blob a manifest's config descriptor names), checked; `what` names it in errors. */
export function checkImageConfig(json: unknown, what: string): ImageConfigFile {
  if (!isObject(json)) fail(what, 'it is not a JSON object');
  const out: ImageConfigFile = { rootfs: { diff_ids: [] } };
  for (const field of ['architecture', 'os', 'variant'] as const) {
    if (json[field] !== undefined && json[field] !== null) out[field] = checkString(json[field], field, what, 64);
  }
  const rootfs = json.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids) || !rootfs.diff_ids.every(isDigest)) {
    fail(what, 'it has no rootfs.diff_ids (a list of sha256 digests)');
  }
  if (rootfs.diff_ids.length > MAX_LAYERS) fail(what, `it lists ${rootfs.diff_ids.length} layers, more than the ${MAX_LAYERS} tslab accepts`);
  out.rootfs.diff_ids = [...rootfs.diff_ids];
  const config = checkProcessConfig(json.config, what);
  if (json.config !== undefined && json.config !== null) out.config = config;
  return out;
}
