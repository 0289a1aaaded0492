// Whether a host uid can reach a file: search permission on every directory above it. A process in a new
// user namespace runs as its mapped uid on the host, and the kernel checks the host's modes against that uid
// (capabilities inside do not count for directories whose owner the namespace does not map). Where a
// directory blocks it, root opens the way for it: an fd opened by root and inherited leads past every
// directory above it, as /proc/self/fd/N, the way runc's init reaches its own binary through /proc/self/exe.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

interface Blocking {
  dir: string;
  mode: number;
  owner: number;
}

/** `dir` and every directory above it, outermost first. */
function directoriesDownTo(dir: string): string[] {
  const above: string[] = [];
  for (let each = path.resolve(dir); ; each = path.dirname(each)) {
    above.unshift(each);
    if (path.dirname(each) === each) return above;
  }
}

/** Those of `dirs` that `uid` (with group `gid`) may not search. */
function unsearchable(dirs: string[], uid: number, gid: number): Blocking[] {
  return dirs.flatMap((dir) => {
    const st = fs.statSync(dir);
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001;
    return st.mode & bit ? [] : [{ dir, mode: st.mode & 0o7777, owner: st.uid }];
  });
}

/** The first directory above `file` that `uid` (with group `gid`) may not search, or undefined when there is none. */
export function blockingDirectory(file: string, uid: number, gid: number): Blocking | undefined {
  return unsearchable(directoriesDownTo(path.dirname(path.resolve(file))), uid, gid)[0];
}

function blockedSentence(file: string, blocked: Blocking, uid: number): string {
  return (
    `the container's root is uid ${uid} on the host, and it cannot reach ${file}: ${blocked.dir} (mode ` +
    `${blocked.mode.toString(8).padStart(4, '0')}, owner ${blocked.owner}) lets no other user through. The first process in a ` +
    'user namespace runs as that uid before it can load anything; put tslab where every user may read it ' +
    `(e.g. clone it under /opt or /usr/local/lib), or allow passage with chmod o+x ${blocked.dir}`
  );
}

/**
 * Where an fd must lead for `uid` to reach `file`: the entry just below the deepest directory it may not
 * search (`through`), and the path on from there; undefined when nothing on the way blocks it.
 */
function passageTo(file: string, uid: number, gid: number): { through: string; rest: string } | undefined {
  const resolved = path.resolve(file);
  const blocked = unsearchable(directoriesDownTo(path.dirname(resolved)), uid, gid);
  if (!blocked.length) return undefined;
  const deepest = blocked[blocked.length - 1].dir;
  const [first, ...rest] = path.relative(deepest, resolved).split(path.sep);
  return { through: path.join(deepest, first), rest: rest.join('/') };
}

/** The package directories a tslab program loads besides itself: koffi and its native build, as Node finds them from `script`. */
function nativeDependencies(script: string): string[] {
  const koffiEntry = createRequire(script).resolve('koffi');
  let koffi = path.dirname(koffiEntry);
  while (path.basename(path.dirname(koffi)) !== 'node_modules' && path.dirname(koffi) !== koffi) koffi = path.dirname(koffi);
  const native = path.join(path.dirname(koffi), '@koromix', `koffi-${process.platform}-${process.arch}`);
  return fs.existsSync(native) ? [koffi, native] : [koffi];
}

/** Names, in the program's environment, the fds it was started through: closePassage() closes them. */
const PASSAGE_FDS = 'TSLAB_PASSAGE_FDS';

/** A Node program's command line as a given uid can start it, and the fds it needs for that. */
export interface NodeCommand {
  argv: string[];
  /** Opened here, close-on-exec: the child must receive them as fds firstFd, firstFd+1, …; the caller closes ours after the spawn. */
  fds: number[];
  /** To add to the program's environment: it names the fds, for closePassage(). */
  env: Record<string, string>;
}

/**
 * Closes, in a program started through nodeCommandFor(), the fds that led to it, once it has loaded what it
 * needs: each is a host directory or node itself, reachable through /proc/self/fd/N from wherever the
 * program goes next (a container's root). Nothing to do for a program started by its path.
 */
export function closePassage(): void {
  const listed = process.env[PASSAGE_FDS];
  if (listed === undefined) return;
  delete process.env[PASSAGE_FDS];
  for (const fd of listed.split(',').map(Number)) {
    if (!Number.isSafeInteger(fd) || fd < 3) continue;
    try {
      fs.closeSync(fd);
    } catch {
      // Not open: nothing leads out through it.
    }
  }
}

/**
 * `node script` as `uid` (with group `gid` and no other groups) can start it. Where a directory it may not
 * search lies above node or the script, the path goes through an fd root opened: /proc/self/fd/N/... A
 * script reached that way loads its packages by that path too (--preserve-symlinks: Node would otherwise
 * resolve /proc/self/fd/N back to the blocked path), so they must lie under the same opening (they do when
 * node_modules is in the package) or be reachable by their own path; when neither, the reason is thrown,
 * naming the directory and the way out.
 */
export function nodeCommandFor(node: string, script: string, uid: number, gid: number, firstFd: number): NodeCommand {
  const fds: number[] = [];
  const throughFd = (file: string, flags: number): string => {
    fds.push(fs.openSync(file, flags));
    return `/proc/self/fd/${firstFd + fds.length - 1}`;
  };
  const env = (): Record<string, string> => (fds.length ? { [PASSAGE_FDS]: fds.map((_, i) => firstFd + i).join(',') } : {});
  try {
    const nodePath = blockingDirectory(node, uid, gid) ? throughFd(node, fs.constants.O_RDONLY) : node;
    const passage = passageTo(script, uid, gid);
    if (!passage) return { argv: [nodePath, script], fds, env: env() };
    for (const dependency of nativeDependencies(script)) {
      const relative = path.relative(passage.through, dependency);
      // Outside the opening, a package is reached through a symlink on the way (a node_modules linked from
      // elsewhere), which the kernel follows by its own path.
      const blocked =
        relative.startsWith('..') || path.isAbsolute(relative)
          ? unsearchable(directoriesDownTo(dependency), uid, gid)[0]
          : unsearchable(directoriesDownTo(dependency).slice(directoriesDownTo(passage.through).length - 1), uid, gid)[0];
      if (blocked) throw new Error(blockedSentence(dependency, blocked, uid));
    }
    const root = throughFd(passage.through, fs.constants.O_RDONLY | (passage.rest ? fs.constants.O_DIRECTORY : 0));
    return { argv: [nodePath, '--preserve-symlinks', '--preserve-symlinks-main', path.posix.join(root, passage.rest)], fds, env: env() };
  } catch (err) {
    for (const fd of fds) fs.closeSync(fd);
    throw err;
  }
}
