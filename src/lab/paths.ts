// Where the lab finds its lessons and the learner's sandbox, and where it keeps progress and its journal.
import * as os from 'node:os';
import * as path from 'node:path';
import { projectRoot } from '../fs/package.js';

export { projectRoot };

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
