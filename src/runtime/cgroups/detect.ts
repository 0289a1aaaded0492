// Where are the cgroup hierarchies mounted, and which cgroup "mode" does this machine use?
//
// Everything comes from /proc/self/mountinfo (one line per mount):
//
//   32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
//   |  |  |    | |                  |          | |      |      `-- super options: for v1, the controllers
//   |  |  |    | |                  |          | |      `-- source
//   |  |  |    | |                  |          | `-- filesystem type: "cgroup" (v1) or "cgroup2" (v2)
//   |  |  |    | |                  |          `-- separator after optional fields
//   |  |  |    | |                  `-- per-mount options
//   |  |  |    | `-- mount point
//   |  |  |    `-- root: which directory of the hierarchy is mounted there ("/" = all of it)
//   id parent major:minor
//
// - v1:     one "cgroup" mount per hierarchy, each with one or more controllers (cpu,cpuacct) or a name (name=systemd).
// - v2:     a single "cgroup2" mount (usually at /sys/fs/cgroup) holding every controller.
// - hybrid: v1 hierarchies for the controllers, plus a cgroup2 mount (often /sys/fs/cgroup/unified) with no controllers,
//           used only to group processes (systemd does this). This machine is hybrid.

import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { parseMountinfo } from '../../linux/mountinfo.js';
import { parseProcCgroup, type ProcCgroupEntry } from '../../linux/proc.js';
import { CgroupError } from './cgroup-error.js';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

/** One mounted cgroup hierarchy. */
export interface CgroupMount {
  /**
   * The key this hierarchy goes by in `CgroupManager.paths`: its controllers joined with ',' as the kernel lists them
   * ('memory', 'cpu,cpuacct', 'name=systemd'), or 'unified' for the cgroup2 hierarchy.
   */
  key: string;
  kind: 'v1' | 'v2';
  /** v1: the controllers (and 'name=...') of this hierarchy. v2: empty (read cgroup.controllers instead). */
  controllers: string[];
  mountPoint: string;
  /** The directory of the hierarchy that is mounted at mountPoint ('/' unless this is a bind of a subtree). */
  root: string;
}

export interface CgroupLayout {
  mode: CgroupMode;
  /** The v1 hierarchies, one entry each (a hierarchy mounted twice is listed once). Empty in 'v2' mode. */
  v1: CgroupMount[];
  /** v1 lookup by controller name ('memory', 'cpuacct', 'name=systemd'); cpu and cpuacct share an entry if co-mounted. */
  controllers: Record<string, CgroupMount>;
  /** The cgroup2 mount: all controllers in 'v2' mode, process grouping only in 'hybrid' mode. */
  unified?: CgroupMount;
}

export { parseMountinfo, type MountinfoEntry } from '../../linux/mountinfo.js';
export { parseProcCgroup, type ProcCgroupEntry } from '../../linux/proc.js';

/** v1 mount options that are not controller names (see cgroup1_parse_param in the kernel). */
const V1_NON_CONTROLLER_OPTIONS = new Set([
  'rw', 'ro', 'none', 'all', 'noprefix', 'clone_children', 'cpuset_v2_mode', 'xattr', 'favordynmods', 'nofavordynmods',
]);

function v1Controllers(superOptions: string[]): string[] {
  return superOptions.filter((o) => o !== '' && !V1_NON_CONTROLLER_OPTIONS.has(o) && !o.startsWith('release_agent='));
}

/**
 * Find the cgroup hierarchies and the mode from mountinfo text (default: this process's /proc/self/mountinfo).
 * Throws CgroupError if no cgroup filesystem is mounted at all.
 */
export function detectCgroupMode(mountinfo?: string): CgroupLayout {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const v1: CgroupMount[] = [];
  let unified: CgroupMount | undefined;
  for (const m of parseMountinfo(text)) {
    if (m.fsType === 'cgroup2') {
      // The first cgroup2 mount wins; prefer one that shows the whole hierarchy.
      if (!unified || (unified.root !== '/' && m.root === '/')) {
        unified = { key: 'unified', kind: 'v2', controllers: [], mountPoint: m.mountPoint, root: m.root };
      }
    } else if (m.fsType === 'cgroup') {
      const controllers = v1Controllers(m.superOptions);
      if (controllers.length === 0) continue;
      const key = controllers.join(',');
      const seen = v1.findIndex((h) => h.key === key);
      const entry: CgroupMount = { key, kind: 'v1', controllers, mountPoint: m.mountPoint, root: m.root };
      if (seen < 0) v1.push(entry);
      else if (v1[seen]!.root !== '/' && m.root === '/') v1[seen] = entry;
    }
  }
  // Named hierarchies (name=systemd) hold no controller: a machine with only those plus cgroup2 is still v2.
  const hasV1Controllers = v1.some((h) => h.controllers.some((c) => !c.startsWith('name=')));
  let mode: CgroupMode;
  if (hasV1Controllers) mode = unified ? 'hybrid' : 'v1';
  else if (unified) mode = 'v2';
  else if (v1.length > 0) mode = 'v1';
  else throw new CgroupError('no cgroup filesystem is mounted (neither "cgroup" nor "cgroup2" in /proc/self/mountinfo)');

  const hierarchies = mode === 'v2' ? [] : v1;
  const controllers: Record<string, CgroupMount> = {};
  for (const h of hierarchies) for (const c of h.controllers) controllers[c] ??= h;
  const layout: CgroupLayout = { mode, v1: hierarchies, controllers };
  if (unified) layout.unified = unified;
  return layout;
}

/** The path (as /proc/self/cgroup shows it) of the process's cgroup in hierarchy `h`, or undefined if not listed. */
export function ownCgroupIn(entries: ProcCgroupEntry[], h: CgroupMount): string | undefined {
  if (h.kind === 'v2') return entries.find((e) => e.id === 0 && e.controllers.length === 0)?.path;
  return entries.find((e) => e.controllers.length > 0 && h.controllers.every((c) => e.controllers.includes(c)))?.path;
}

/** The directories, in every mounted hierarchy, of the cgroups a process is in (read from /proc/<pid>/cgroup). */
export function cgroupDirsOf(pid: number, layout: CgroupLayout = detectCgroupMode()): string[] {
  const entries = parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  const mounts = [...layout.v1, ...(layout.unified ? [layout.unified] : [])];
  return mounts.flatMap((h) => {
    const own = ownCgroupIn(entries, h);
    if (own === undefined) return [];
    const relative = posix.relative(h.root, own);
    return relative.startsWith('..') ? [] : [posix.join(h.mountPoint, relative)];
  });
}
