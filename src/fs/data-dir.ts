// Where tslab keeps its data (images, containers, runtime state), and keeping it private to its owner.
// Unpacked image layers hold whatever the image author put there: setuid-root binaries, 0666 device
// nodes. Anyone who can walk into the data dir can use them on the host, so the dir is 0700 (docker's is
// 0710 with group root: the same for everyone but root); an existing, more open one is tightened.
import * as fs from 'node:fs';
import * as path from 'node:path';

export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirError';
  }
}

/** Where the data dir is: $TSLAB_DATA_DIR, else $XDG_DATA_HOME/tslab, else /var/lib/tslab. */
function configuredDataDir(): string {
  if (process.env.TSLAB_DATA_DIR) return process.env.TSLAB_DATA_DIR;
  if (process.env.XDG_DATA_HOME) return path.join(process.env.XDG_DATA_HOME, 'tslab');
  return '/var/lib/tslab';
}

/** True when nobody but the owner (and, docker's way, group root) can enter `st`. */
function isPrivate(st: fs.Stats): boolean {
  const open = st.mode & 0o077;
  return open === 0 || (open === 0o010 && st.gid === 0);
}

/**
 * Creates `dir` (and its parents) if missing, private to this user; tightens our own dir if it is open to
 * others. As root, refuses a dir another user owns: the layers root unpacks there would be theirs to use.
 */
export function makePrivateDir(dir: string, what: string): void {
  fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  try {
    fs.mkdirSync(dir, 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.statSync(dir); // a symlink an administrator made is followed: it is their choice of place
  if (!st.isDirectory()) throw new DataDirError(`${what} ${dir} is not a directory`);
  const me = process.geteuid?.() ?? 0;
  if (st.uid !== me) {
    if (me === 0) {
      throw new DataDirError(
        `${what} ${dir} belongs to uid ${st.uid}, not root: setuid files and device nodes root unpacks from images there would be that user's to use; chown it to root or choose another TSLAB_DATA_DIR`,
      );
    }
    return; // not ours to change; and what a non-root tslab writes gives nobody more rights than they have
  }
  if (!isPrivate(st)) fs.chmodSync(dir, 0o700);
}

const madePrivate = new Set<string>();

/** The data dir, created private (0700) on first use in this process, and tightened if it was not. */
export function dataDir(): string {
  const dir = configuredDataDir();
  if (!madePrivate.has(dir)) {
    makePrivateDir(dir, 'the data dir');
    madePrivate.add(dir);
  }
  return dir;
}
