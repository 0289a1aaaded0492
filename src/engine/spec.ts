// config.json for a `tslab run` container: runc's default spec, then the image's config, then the flags —
// in that order of precedence, as docker applies them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { imageCommand, type ImageConfig } from '../image/image.js';
import { DOCKER_DEFAULT_CAPABILITIES } from '../runtime/process/capability-names.js';
import { defaultSpec } from '../runtime/spec/default-spec.js';
import type { Mount, Spec } from '../runtime/spec/types.js';
import { UnsafeFileError, readRegularIn } from '../fs/regular-file.js';
import { SyscallError } from '../linux/error.js';
import { MAX_ID } from '../linux/id-range.js';

export class RunOptionError extends Error {}

export interface RunOptions {
  name?: string;
  detach: boolean;
  autoRemove: boolean;
  interactive: boolean;
  tty: boolean;
  hostname?: string;
  env: string[];
  envFiles: string[];
  workdir?: string;
  user?: string;
  volumes: string[];
  memory?: string;
  pidsLimit?: number;
  cpus?: number;
  network: 'none' | 'bridge' | 'host';
  publish: string[];
  entrypoint?: string;
  image: string;
  command: string[];
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "64m", "1g", "512k", "1048576" -> bytes (docker's units, binary). */
function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(text.trim());
  if (!match) throw new RunOptionError(`invalid size "${text}": use a number with an optional unit b, k, m or g (e.g. 64m)`);
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
  if (bytes < 6 * 1024 * 1024) throw new RunOptionError(`memory limit ${text} is too small: the minimum is 6m, as docker's`);
  return bytes;
}

function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new RunOptionError(`--env-file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => (line.includes('=') ? line : `${line}=${process.env[line] ?? ''}`));
}

/** Later entries win per variable name; a bare NAME takes the value from tslab's own environment. */
function mergeEnv(...lists: string[][]): string[] {
  const merged = new Map<string, string>();
  for (const list of lists) {
    for (const entry of list) {
      const eq = entry.indexOf('=');
      if (eq === 0) throw new RunOptionError(`invalid environment variable "${entry}"`);
      if (eq < 0) merged.set(entry, `${entry}=${process.env[entry] ?? ''}`);
      else merged.set(entry.slice(0, eq), entry);
    }
  }
  return [...merged.values()];
}

/** The most tslab reads of an image's /etc/passwd or /etc/group (a real one is a few kilobytes). */
const ID_FILE_MAX_BYTES = 1024 * 1024;

/** A uid or gid given as digits, refused outside 0..MAX_ID; undefined if `text` is a name. */
function numericId(text: string, what: 'uid' | 'gid', source: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const id = Number(text);
  if (id > MAX_ID) throw new RunOptionError(`${source}: ${what} ${text} is out of range: a ${what} must be from 0 to ${MAX_ID}`);
  return id;
}

/** The entries of the image's /etc/passwd or /etc/group, each split into its fields. */
function idFileEntries(rootfs: string, file: string, source: string): string[][] {
  // The image's file, looked up inside its rootfs (an absolute link there means the container's /, not the host's).
  let text: string;
  try {
    text = readRegularIn(rootfs, file, { confine: 'in-root', what: `the image's ${file}`, maxBytes: ID_FILE_MAX_BYTES });
  } catch (err) {
    if (err instanceof UnsafeFileError && err.reason === 'missing') text = '';
    else if (err instanceof UnsafeFileError || err instanceof SyscallError) throw new RunOptionError(`cannot resolve ${source}: ${err.message}`);
    else throw err;
  }
  return text.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(':'));
}

/** Field `field` of an id file's entry as an id, refused unless it is a number in range. */
function idField(entry: string[], field: number, what: 'uid' | 'gid', file: string): number {
  const text = entry[field] ?? '';
  const id = numericId(text, what, `the image's ${file} entry for "${entry[0]}"`);
  if (id === undefined) throw new RunOptionError(`the image's ${file} entry for "${entry[0]}" has the ${what} "${text}", which is not a number`);
  return id;
}

/**
 * "user[:group]" (numbers, or names looked up in the image's /etc/passwd and /etc/group, read inside the
 * rootfs only) -> ids; a user without a group gets the primary group of its passwd entry, else 0, as docker.
 */
function resolveUser(user: string, rootfs: string, origin = 'user'): { uid: number; gid: number } {
  const source = `${origin} "${user}"`;
  const [u, g, ...more] = user.split(':');
  if (more.length || !u) throw new RunOptionError(`invalid ${source}: use USER[:GROUP], each a name or a number`);
  let uid = numericId(u, 'uid', source);
  let entry: string[] | undefined;
  if (uid === undefined) {
    entry = idFileEntries(rootfs, '/etc/passwd', source).find((e) => e[0] === u);
    if (!entry) throw new RunOptionError(`unable to find user ${u}: no matching entries in the image's /etc/passwd`);
    uid = idField(entry, 2, 'uid', '/etc/passwd');
  }
  if (g !== undefined) {
    if (!g) throw new RunOptionError(`invalid ${source}: the group after ":" is empty`);
    let gid = numericId(g, 'gid', source);
    if (gid === undefined) {
      const group = idFileEntries(rootfs, '/etc/group', source).find((e) => e[0] === g);
      if (!group) throw new RunOptionError(`unable to find group ${g}: no matching entries in the image's /etc/group`);
      gid = idField(group, 2, 'gid', '/etc/group');
    }
    return { uid, gid };
  }
  entry ??= idFileEntries(rootfs, '/etc/passwd', source).find((e) => /^\d+$/.test(e[2] ?? '') && Number(e[2]) === uid);
  return { uid, gid: entry ? idField(entry, 3, 'gid', '/etc/passwd') : 0 };
}

function volumeMount(spec: string): Mount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new RunOptionError(`invalid volume "${spec}": use SRC:DST[:ro]`);
  const [source, destination, mode = 'rw'] = parts;
  if (!path.isAbsolute(destination)) throw new RunOptionError(`invalid volume "${spec}": the destination must be an absolute path`);
  if (mode !== 'ro' && mode !== 'rw') throw new RunOptionError(`invalid volume "${spec}": the mode must be ro or rw`);
  const hostPath = path.resolve(source);
  // docker creates a missing host directory for a bind mount.
  if (!fs.existsSync(hostPath)) fs.mkdirSync(hostPath, { recursive: true });
  return { destination, type: 'bind', source: hostPath, options: ['rbind', mode] };
}

export interface SpecInputs {
  options: RunOptions;
  image: ImageConfig;
  rootfs: string;
  hostname: string;
}

export function containerSpec({ options, image, rootfs, hostname }: SpecInputs): Spec {
  const spec = defaultSpec({ terminal: options.tty });
  const proc = spec.process!;
  proc.args = imageCommand(image, options.command, options.entrypoint === undefined ? undefined : options.entrypoint ? [options.entrypoint] : []);
  if (!proc.args.length) throw new RunOptionError(`no command specified: the image ${options.image} has no Cmd or Entrypoint; give one after the image`);
  const envFiles = options.envFiles.flatMap(readEnvFile);
  proc.env = mergeEnv(
    ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    image.Env ?? [],
    [`HOSTNAME=${hostname}`],
    options.tty ? ['TERM=xterm'] : [],
    envFiles,
    options.env,
  );
  proc.cwd = options.workdir ?? (image.WorkingDir || '/');
  if (!path.isAbsolute(proc.cwd)) throw new RunOptionError(`the working directory "${proc.cwd}" is invalid: it needs to be an absolute path`);
  const user = options.user ?? image.User;
  if (user) {
    const { uid, gid } = resolveUser(user, rootfs, options.user !== undefined ? '-u' : "the image's User");
    proc.user = { uid, gid };
  }
  proc.capabilities = {
    bounding: [...DOCKER_DEFAULT_CAPABILITIES],
    effective: [...DOCKER_DEFAULT_CAPABILITIES],
    permitted: [...DOCKER_DEFAULT_CAPABILITIES],
  };
  spec.hostname = hostname;
  spec.root = { path: rootfs, readonly: false };
  spec.mounts = [...(spec.mounts ?? []), ...options.volumes.map(volumeMount)];
  const linux = spec.linux!;
  if (options.network === 'host') linux.namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network');
  const resources = linux.resources ?? {};
  if (options.memory !== undefined) {
    const limit = parseSize(options.memory);
    // Like `--memory-swap` equal to `--memory`: no swap on top, so the limit really OOM-kills.
    resources.memory = { limit, swap: limit };
  }
  if (options.pidsLimit !== undefined) resources.pids = { limit: options.pidsLimit };
  if (options.cpus !== undefined) {
    if (!(options.cpus > 0)) throw new RunOptionError(`--cpus must be a positive number, not ${options.cpus}`);
    resources.cpu = { quota: Math.round(options.cpus * 100_000), period: 100_000 };
  }
  linux.resources = resources;
  return spec;
}
