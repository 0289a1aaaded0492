// Lesson 12: a user namespace's ids. A process in a new user namespace has no uid there until someone
// writes its uid_map: lines "INSIDE OUTSIDE COUNT", each mapping COUNT ids from INSIDE (in the namespace)
// to OUTSIDE (in the parent namespace). The writer sits outside, in the parent namespace, with CAP_SETUID
// (CAP_SETGID for gid_map) there: from inside, a process may map only its own outside uid, one id. Each
// file takes ONE write(2), all lines at once, and cannot be written again. setgroups comes between the two
// maps: "deny" is accepted only until gid_map is written, and a writer without CAP_SETGID over the parent
// namespace (a rootless runtime) must write it first or its gid_map is refused (EPERM). Denied, setgroups(2)
// fails in the namespace, so its root cannot drop a group that was keeping it out of a file.
import { O_CLOEXEC, O_WRONLY, close, open, write } from '../../linux/index.js';

export interface IdRange {
  /** First id in the user namespace. */
  inside: number;
  /** The id of the parent namespace that `inside` is. */
  outside: number;
  /** How many consecutive ids the line maps. */
  count: number;
}

/** One write(2) of `text` to a /proc file; no O_CREAT or O_TRUNC: the kernel takes it as a command. */
function writeOnce(file: string, text: string): void {
  const fd = open(file, O_WRONLY | O_CLOEXEC);
  try {
    write(fd, text, file);
  } finally {
    close(fd);
  }
}

/** The text of a uid_map or gid_map: one "inside outside count" line per range. */
export function idMapText(ranges: readonly IdRange[]): string {
  return ranges.map((r) => `${r.inside} ${r.outside} ${r.count}\n`).join('');
}

/** Maps the ids of the user namespace that process `pid` is in, from outside it: uid_map, setgroups, gid_map. */
export function writeIdMaps(pid: number, uids: readonly IdRange[], gids: readonly IdRange[]): void {
  writeOnce(`/proc/${pid}/uid_map`, idMapText(uids));
  writeOnce(`/proc/${pid}/setgroups`, 'deny');
  writeOnce(`/proc/${pid}/gid_map`, idMapText(gids));
}
