// LESSON 12 — User namespaces: root inside, nobody outside
//
// The lab starts the container's first process in a new user namespace (through util-linux unshare: a
// multithreaded process such as Node cannot make or join one) and stops it until its ids are mapped. You
// write the maps, from outside, as the kernel wants them in /proc/<pid>/:
// Write idMapText(ranges): one line "INSIDE OUTSIDE COUNT\n" per range, inside first.
// Write writeIdMaps(pid, uids, gids): uid_map, then "deny" to setgroups, then gid_map ("deny" is refused
// once gid_map is written). Each file takes ONE write(2) of all its lines, and cannot be written again.
import { O_CLOEXEC, O_WRONLY, close, open, write } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export interface IdRange {
  /** First id in the user namespace. */
  inside: number;
  /** The id of the parent namespace that `inside` is. */
  outside: number;
  /** How many consecutive ids the line maps. */
  count: number;
}

export function idMapText(ranges: readonly IdRange[]): string {
  // TODO(lesson 12): the text of a uid_map or gid_map.
  throw new NotWrittenYet(12, 'idMapText', 'id-maps.ts', "ranges.map((r) => `${r.inside} ${r.outside} ${r.count}\\n`).join('')");
}

export function writeIdMaps(pid: number, uids: readonly IdRange[], gids: readonly IdRange[]): void {
  // TODO(lesson 12): map the namespace's uids, deny setgroups, map its gids.
  throw new NotWrittenYet(12, 'writeIdMaps', 'id-maps.ts', "for each file: open(`/proc/${pid}/uid_map`, O_WRONLY | O_CLOEXEC), one write(fd, text), close(fd); order: uid_map, setgroups ('deny'), gid_map");
}
