// What the kernel holds for a user namespace's ids, read back from /proc/<pid>/{uid_map,gid_map,setgroups},
// and what is wrong with it, said as the mistake that most likely made it. The launcher reads it after the
// learner's writeIdMaps() (the init cannot become root of its namespace without uid 0 and gid 0 mapped) and
// the lesson's check reads it again.
import * as fs from 'node:fs';
import type { IdRange, UsernsPlan } from './plan.js';

export interface IdMapsSeen {
  /** Lines of uid_map, spaces evened out ("0 100000 65536"); empty when nothing was written. */
  uid: string[];
  gid: string[];
  /** "allow" or "deny"; undefined when unreadable. */
  setgroups: string | undefined;
}

function readLines(file: string): string[] {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/).join(' '))
      .filter(Boolean);
  } catch {
    return [];
  }
}

export function readIdMaps(pid: number): IdMapsSeen {
  let setgroups: string | undefined;
  try {
    setgroups = fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim();
  } catch {
    setgroups = undefined;
  }
  return { uid: readLines(`/proc/${pid}/uid_map`), gid: readLines(`/proc/${pid}/gid_map`), setgroups };
}

export function rangeLines(ranges: readonly IdRange[]): string[] {
  return ranges.map((r) => `${r.inside} ${r.outside} ${r.count}`);
}

/** Does any line map `id` of the namespace? */
export function mapsInside(lines: readonly string[], id: number): boolean {
  return lines.some((line) => {
    const [inside, , count] = line.split(' ').map(Number);
    return id >= inside && id < inside + count;
  });
}

/** Why one map differs from the ranges asked for; undefined when it is right. */
export function mapProblem(file: 'uid_map' | 'gid_map', seen: readonly string[], want: readonly IdRange[]): string | undefined {
  const expected = rangeLines(want);
  if (seen.join(',') === expected.join(',')) return undefined;
  if (!seen.length) {
    return file === 'uid_map'
      ? 'uid_map is empty: writeIdMaps() did not write it, or the kernel refused the write'
      : 'gid_map is empty: writeIdMaps() must write it too, after setgroups; without it the container has no gid 0 (setresgid(0) fails with EINVAL)';
  }
  const swapped = want.map((r) => `${r.outside} ${r.inside} ${r.count}`);
  if (seen.join(',') === swapped.join(',')) {
    return `${file} holds "${seen.join(', ')}": the fields are swapped. A line is INSIDE OUTSIDE COUNT, the namespace's first id first; this one maps ${want[0].outside} of the namespace to the host's ${want[0].inside}`;
  }
  const counts = seen.map((line) => line.split(' ').slice(0, 2).join(' '));
  if (seen.length === want.length && counts.join(',') === want.map((r) => `${r.inside} ${r.outside}`).join(',')) {
    const line = seen.find((l, i) => l !== expected[i])!;
    const range = want[seen.indexOf(line)];
    return `${file} holds "${line}": COUNT is how many ids the line maps, ${range.count} for ${range.inside}..${range.inside + range.count - 1} (a count of ${line.split(' ')[2]} maps ${range.inside}..${range.inside + Number(line.split(' ')[2]) - 1})`;
  }
  return `${file} holds "${seen.join(', ')}" instead of "${expected.join(', ')}"`;
}

export function setgroupsProblem(seen: IdMapsSeen): string | undefined {
  if (seen.setgroups === 'deny') return undefined;
  return `setgroups says "${seen.setgroups ?? '?'}": writeIdMaps() must write "deny" to it, after uid_map and BEFORE gid_map (once gid_map is written, the kernel refuses "deny": EPERM)`;
}

/** Every problem with the ids the kernel holds for the namespace of `pid`, as sentences. */
export function idMapProblems(seen: IdMapsSeen, plan: UsernsPlan): string[] {
  return [mapProblem('uid_map', seen.uid, plan.uids), setgroupsProblem(seen), mapProblem('gid_map', seen.gid, plan.gids)].filter((p): p is string => p !== undefined);
}

/** What an error thrown by writeIdMaps() most likely means, from its syscall, errno and file, and what was written before it. */
export function explainMapError(err: unknown, seen: IdMapsSeen): string | undefined {
  const e = err as { syscall?: string; code?: string; path?: string };
  const file = e.path?.split('/').pop();
  if (e.syscall === 'setns' && e.code === 'EINVAL') {
    return 'a multithreaded process (every Node process) cannot join a user namespace: setns(CLONE_NEWUSER) is EINVAL. Nor is there a need: the maps are written from outside, by a process of the parent namespace that has CAP_SETUID and CAP_SETGID there';
  }
  if (e.code === 'EINVAL' && (file === 'uid_map' || file === 'gid_map')) {
    return `the kernel could not take that ${file} text: each line is three numbers INSIDE OUTSIDE COUNT, COUNT at least 1, no two ranges overlapping`;
  }
  if (e.code === 'EPERM' && file === 'uid_map' && seen.uid.length) {
    return 'uid_map was already written: a map takes one write(2) of all its lines and can never be written again';
  }
  if (e.code === 'EPERM' && file === 'gid_map' && seen.gid.length) {
    return 'gid_map was already written: a map takes one write(2) of all its lines and can never be written again';
  }
  if (e.code === 'EPERM' && file === 'setgroups' && seen.gid.length) {
    return '"deny" must be written to setgroups BEFORE gid_map: once gid_map is written the kernel refuses it (EPERM)';
  }
  if (e.code === 'EPERM' && (file === 'uid_map' || file === 'gid_map')) {
    return `writing ${file} needs ${file === 'uid_map' ? 'CAP_SETUID' : 'CAP_SETGID'} in the PARENT user namespace (the host's): from inside the container's namespace a process may map only its own host id, one id. Write it from outside`;
  }
  return undefined;
}
