// `tslab bundle DIR`: an OCI bundle made of the lab's busybox root and the runtime's default config.json,
// ready for `tslab-runtime run`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDefaultRootfs } from '../fs/busybox-rootfs.js';
import { defaultSpec, formatSpec } from '../runtime/spec/default-spec.js';

/** The directory already holds a config.json: the learner's own, never overwritten. */
export class BundleExistsError extends Error {}

/** Writes the bundle into `dir` (created when missing), running `command` when one is given; returns its absolute path. */
export function writeBundle(dir: string, command: string[]): string {
  const target = path.resolve(dir);
  if (fs.existsSync(path.join(target, 'config.json'))) throw new BundleExistsError(`${target}/config.json exists: remove it or pick another directory`);
  fs.mkdirSync(target, { recursive: true });
  fs.cpSync(ensureDefaultRootfs(), path.join(target, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  const spec = defaultSpec({ terminal: false });
  if (command.length) spec.process!.args = command;
  fs.writeFileSync(path.join(target, 'config.json'), formatSpec(spec));
  return target;
}
