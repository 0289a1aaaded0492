// What /proc says about a process: its stat (enough to tell whether a saved pid is still the same
// process), its status fields, its namespace links, the pids its /proc shows, and its cgroups.
import * as fs from 'node:fs';

export interface ProcStat {
  state: string;
  startTime: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

/** The state and start time in the text of a /proc/<pid>/stat. */
export function parseProcStat(text: string): ProcStat {
  // The command name (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], startTime: Number(fields[19]) };
}

/** True while `pid` is the same process (same start time) and has not exited. */
export function isAlive(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Waits until the process is gone, up to `timeoutMs`; returns whether it is. */
export function waitForExit(pid: number, startTime: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, startTime)) {
    if (Date.now() > deadline) return false;
    sleepSync(2);
  }
  return true;
}

/** A field of /proc/<pid>/status ("NSpid", "CapEff"...), trimmed; undefined if the process or the field is not there. */
export function readStatusField(pid: number | 'self', field: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.startsWith(`${field}:`));
  return line === undefined ? undefined : line.slice(field.length + 1).trim();
}

/** The namespace link of a process, e.g. "uts:[4026531838]" for namespaceLink(pid, 'uts'); undefined if unreadable. */
export function namespaceLink(pid: number | 'self', ns: string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

/** The pids listed in the /proc the process sees (numeric entries of /proc/<pid>/root/proc), sorted; [] if unreadable. */
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

/** One line of /proc/<pid>/cgroup: "hierarchy-id:controllers:path". */
export interface ProcCgroupEntry {
  id: number;
  /** Empty for the cgroup2 line ("0::/path"). */
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const ctl = line.slice(first + 1, second);
    out.push({ id: Number(line.slice(0, first)), controllers: ctl === '' ? [] : ctl.split(','), path: line.slice(second + 1) });
  }
  return out;
}
