// Whether a host uid can reach a file: search permission on every directory above it. A process in a new
// user namespace runs as its mapped uid on the host, and the kernel checks the host's modes against that uid
// (capabilities inside do not count for directories whose owner the namespace does not map).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The first directory above `file` that `uid` (with group `gid`) may not search, or undefined when there is none. */
export function blockingDirectory(file: string, uid: number, gid: number): { dir: string; mode: number; owner: number } | undefined {
  let dir = path.dirname(path.resolve(file));
  const above: string[] = [];
  for (;;) {
    above.unshift(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const each of above) {
    const st = fs.statSync(each);
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return { dir: each, mode: st.mode & 0o7777, owner: st.uid };
  }
  return undefined;
}

/** A sentence for a learner or an engine when the mapped uid cannot reach the program it must run, or undefined. */
export function unreachableSentence(files: string[], uid: number, gid: number): string | undefined {
  for (const file of files) {
    const blocked = blockingDirectory(file, uid, gid);
    if (!blocked) continue;
    return (
      `the container's root is uid ${uid} on the host, and it cannot reach ${file}: ${blocked.dir} (mode ` +
      `${blocked.mode.toString(8).padStart(4, '0')}, owner ${blocked.owner}) lets no other user through. The first process in a ` +
      'user namespace runs as that uid before it can load anything; put tslab where every user may read it ' +
      `(e.g. clone it under /opt or /usr/local/lib), or allow passage with chmod o+x ${blocked.dir}`
    );
  }
  return undefined;
}
