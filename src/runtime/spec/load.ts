// Reading a bundle's config.json into a checked `Spec`: the file read as hostile input, its text parsed
// (json.ts), decoded as Go's encoding/json would (decode.ts) and checked (validate.ts).

import * as fs from 'node:fs';
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import { fileKind } from '../../linux/resolve.js';
import { SpecError } from './spec-error.js';
import type { Resources, Spec } from './types.js';
import { SPEC_SCHEMA, convert, describeNode, type Locations, type Schema } from './decode.js';
import { Located, parseJson } from './json.js';
import { checkAgainstHost, checkResources, checkSpec } from './validate.js';

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
