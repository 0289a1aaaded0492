// Where the lab finds its lessons and the learner's sandbox, and where it keeps progress and its journal.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The tslab checkout this code runs from (the directory holding package.json). */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    if (path.dirname(dir) === dir) throw new Error(`cannot find the tslab checkout around ${import.meta.url}`);
    dir = path.dirname(dir);
  }
  return dir;
}

export function lessonsDir(): string {
  return path.join(projectRoot(), 'lessons');
}

/** The learner's workspace; TSLAB_SANDBOX points elsewhere (tests use a pristine copy of the starter). */
export function sandboxDir(): string {
  return path.resolve(process.env.TSLAB_SANDBOX ?? path.join(projectRoot(), 'sandbox'));
}

/** Progress and the journal of host changes: $TSLAB_DATA_DIR, else $XDG_DATA_HOME/tslab, else ~/.local/share/tslab. */
export function labStateDir(): string {
  const base =
    process.env.TSLAB_DATA_DIR ??
    path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'tslab');
  return path.join(base, 'lab');
}
