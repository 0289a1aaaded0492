// Helpers shared by the lessons' checks: they read kernel state from /proc (never text a learner printed)
// and build the results a learner sees (what was seen, what was expected, what to try).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { LessonContainer } from '../container.js';
import type { CheckContext, CheckResult } from './types.js';

export function pass(name: string, saw?: string): CheckResult {
  return { name, ok: true, saw };
}

export function fail(name: string, saw: string, expected: string, hint: string): CheckResult {
  return { name, ok: false, saw, expected, hint };
}

/** One check: `ok` decides between pass and fail, the rest describes it. */
export function verdict(name: string, ok: boolean, saw: string, expected: string, hint: string): CheckResult {
  return ok ? pass(name, saw) : fail(name, saw, expected, hint);
}

/**
 * The running lesson container, or the failing results to return when there is none (or it runs at a level
 * below `minLevel`, i.e. it was started for an earlier lesson). Use as:
 *   const container = requireContainer(ctx, 3); if (Array.isArray(container)) return container;
 */
export function requireContainer(ctx: CheckContext, minLevel?: number): LessonContainer | CheckResult[] {
  const container = ctx.container;
  if (!container || !fs.existsSync(`/proc/${container.pid}`)) {
    return [fail('the lesson container is running', 'no lesson container', 'a running lesson container', "run the lesson's `tslab enable` cell")];
  }
  if (minLevel !== undefined && container.level < minLevel) {
    return [
      fail(
        'the lesson container is running',
        `a lesson container at level ${container.level} (started by lesson ${container.lesson})`,
        `a lesson container at level ${minLevel} or higher`,
        "run this lesson's `tslab enable` cell",
      ),
    ];
  }
  return container;
}

/** The contents of a file, or undefined when it cannot be read. */
export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A field of /proc/<pid>/status ("NSpid", "CapEff", ...), trimmed; undefined if missing. */
export function readStatusField(pid: number | 'self', field: string): string | undefined {
  const line = readText(`/proc/${pid}/status`)
    ?.split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line === undefined ? undefined : line.slice(field.length + 1).trim();
}

/** The namespace link of a process, e.g. "uts:[4026531838]" for nsInode(pid, 'uts'); undefined if unreadable. */
export function nsInode(pid: number | 'self', name: string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${name}`);
  } catch {
    return undefined;
  }
}

/** The pids listed in the /proc the process sees (numeric entries of /proc/<pid>/root/proc), sorted. */
export function visiblePids(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/root/proc`)
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

export interface MountEntry {
  id: number;
  parent: number;
  /** "major:minor" of the filesystem's device. */
  device: string;
  /** The path of the mounted directory inside its filesystem ("/" for a whole filesystem). */
  root: string;
  mountPoint: string;
  /** Optional fields such as "shared:1" or "master:3" (empty when the mount is private). */
  optional: string[];
  fsType: string;
  source: string;
}

/** The mounts of a process's mount namespace as it sees them (/proc/<pid>/mountinfo). */
export function readMountinfo(pid: number | 'self'): MountEntry[] {
  const text = readText(`/proc/${pid}/mountinfo`) ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left, right = ''] = line.split(' - ');
      const fields = left.split(' ');
      const [fsType = '', source = ''] = right.split(' ');
      return {
        id: Number(fields[0]),
        parent: Number(fields[1]),
        device: fields[2] ?? '',
        root: fields[3] ?? '',
        mountPoint: fields[4] ?? '',
        optional: fields.slice(6),
        fsType,
        source,
      };
    });
}

/** How many mounts the host (this process's mount namespace) has now. */
export function hostMountCount(): number {
  return readMountinfo('self').length;
}

/** The hostname of a process's UTS namespace (read from inside it, as the hostname belongs to the reader's namespace). */
export function hostnameOf(pid: number): string | undefined {
  try {
    return execFileSync('nsenter', [`--uts=/proc/${pid}/ns/uts`, 'cat', '/proc/sys/kernel/hostname'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** A short rendering of a list for `saw`: "3 (1 7 9)" or "120 (1 2 3 4 5 6 ...)". */
export function describeList(items: Array<string | number>, max = 6): string {
  const shown = items.slice(0, max).join(' ');
  return `${items.length} (${shown}${items.length > max ? ' ...' : ''})`;
}

/** Text of an error for `saw`. */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
