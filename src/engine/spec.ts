// config.json for a `tslab run` container: runc's default spec, then the image's config, then the flags —
// in that order of precedence, as docker applies them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { imageCommand, type ImageConfig } from '../image/image.js';
import { DOCKER_DEFAULT_CAPABILITIES } from '../runtime/capabilities.js';
import { defaultSpec } from '../runtime/spec/default-spec.js';
import type { Mount, Spec } from '../runtime/spec/types.js';

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
export function parseSize(text: string): number {
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
export function mergeEnv(...lists: string[][]): string[] {
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

function lookupId(file: string, name: string): number | undefined {
  try {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.split(':')[0] === name);
    return line ? Number(line.split(':')[2]) : undefined;
  } catch {
    return undefined;
  }
}

/** "uid[:gid]" with numbers or names looked up in the image's /etc/passwd and /etc/group. */
export function resolveUser(user: string, rootfs: string): { uid: number; gid: number } {
  const [u, g] = user.split(':');
  const uid = /^\d+$/.test(u) ? Number(u) : lookupId(path.join(rootfs, 'etc/passwd'), u);
  if (uid === undefined) throw new RunOptionError(`unable to find user ${u}: no matching entries in the image's /etc/passwd`);
  let gid: number | undefined;
  if (g === undefined) {
    const line = (() => {
      try {
        return fs.readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8').split('\n').find((l) => Number(l.split(':')[2]) === uid);
      } catch {
        return undefined;
      }
    })();
    gid = line ? Number(line.split(':')[3]) : 0;
  } else {
    gid = /^\d+$/.test(g) ? Number(g) : lookupId(path.join(rootfs, 'etc/group'), g);
  }
  if (gid === undefined) throw new RunOptionError(`unable to find group ${g}: no matching entries in the image's /etc/group`);
  return { uid, gid };
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
    const { uid, gid } = resolveUser(user, rootfs);
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
