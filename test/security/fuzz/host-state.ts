// What a fuzzed config.json must never change on the host, read before and after each case and compared.
//
// The machine is shared with other test runs, so only state no other run touches is compared as a whole:
//   - a canary tree next to the bundles (paths, modes, owners, contents), reachable only by traversal;
//   - mounts outside /tmp, /var/lib/tslab and /run/netns (other runs mount there), and any under our own dirs;
//   - a decoy cgroup of ours in every v1 hierarchy, holding a canary process: its limits and members;
//   - the long-lived top-level cgroups of each hierarchy (none may disappear);
//   - host sysctls the fuzzer sets, hostname and domainname;
//   - a few host files a traversal would reach (/etc/passwd, /etc/hosts...).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupMountPoints } from '../../helpers/leaks.js';

/** Sysctls the mutations write; their host values are watched (and put back if a case changed them). */
export const WATCHED_SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.forwarding',
  'net.core.somaxconn',
  'kernel.shmmax',
  'kernel.msgmax',
  'fs.mqueue.msg_max',
  'kernel.hostname',
  'kernel.domainname',
  'kernel.panic',
  'vm.swappiness',
];

const HOST_FILES = ['/etc/passwd', '/etc/shadow', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];
/** Files of the decoy cgroup compared before and after; those a hierarchy lacks are skipped. */
const DECOY_FILES = ['memory.limit_in_bytes', 'memory.soft_limit_in_bytes', 'pids.max', 'cpu.shares', 'cpu.cfs_quota_us', 'cpuset.cpus', 'devices.list', 'freezer.state', 'cgroup.procs'];

export interface HostWatch {
  /** Dirs of ours whose mounts always count (canary, bind sources, bundles). */
  ownDirs: string[];
  canary: string;
  decoys: string[];
  /** Top-level cgroups made before this time (ms since the epoch) count as the host's. */
  settledBefore: number;
}

export type HostState = Map<string, string>;

function sysctlPath(key: string): string {
  return path.join('/proc/sys', key.replace(/\./g, '/'));
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    return `<${(e as NodeJS.ErrnoException).code ?? 'unreadable'}>`;
  }
}

function hashTree(dir: string, out: HostState): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    out.set(`canary ${dir}`, `<${(e as NodeJS.ErrnoException).code}>`);
    return;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    const st = fs.lstatSync(p);
    let what = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
    if (e.isFile()) what += ` ${createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)}`;
    if (e.isSymbolicLink()) what += ` -> ${fs.readlinkSync(p)}`;
    out.set(`canary ${p}`, what);
    if (e.isDirectory()) hashTree(p, out);
  }
}

/** Mount lines that belong to other runs sharing the machine: not compared. */
function othersMount(mountPoint: string, watch: HostWatch): boolean {
  if (watch.ownDirs.some((d) => mountPoint === d || mountPoint.startsWith(`${d}/`))) return false;
  return /^\/(tmp|var\/lib\/tslab|run\/netns|run\/tslab|run\/runc|run\/user|run\/containers)(\/|$)/.test(mountPoint);
}

/**
 * Top-level cgroups older than `since`: other runs make and remove their own cgroups there all the time
 * (under any name), but one that outlived the start of the fuzz run by minutes is the host's.
 */
function settledTopLevelCgroups(since: number): string[] {
  const found: string[] = [];
  for (const mp of cgroupMountPoints()) {
    for (const e of fs.readdirSync(mp, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const dir = path.join(mp, e.name);
      try {
        if (fs.statSync(dir).ctimeMs < since) found.push(dir);
      } catch {
        // Removed meanwhile by whoever made it.
      }
    }
  }
  return found.sort();
}

export function snapshotHostState(watch: HostWatch): HostState {
  const s: HostState = new Map();
  hashTree(watch.canary, s);
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const mountPoint = fields[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (othersMount(mountPoint, watch)) continue;
    // The mount id and parent id stay; the optional fields (propagation) are part of what is compared.
    s.set(`mount ${fields[0]} ${mountPoint}`, line);
  }
  for (const decoy of watch.decoys) {
    for (const file of DECOY_FILES) {
      const p = path.join(decoy, file);
      if (fs.existsSync(p)) s.set(`cgroup ${p}`, read(p));
    }
    s.set(`cgroup ${decoy} exists`, String(fs.existsSync(decoy)));
  }
  s.set('cgroups at the top level', settledTopLevelCgroups(watch.settledBefore).join(' '));
  for (const key of WATCHED_SYSCTLS) s.set(`sysctl ${key}`, read(sysctlPath(key)));
  for (const file of HOST_FILES) {
    try {
      const st = fs.statSync(file);
      s.set(`file ${file}`, `${st.ino} ${st.size} ${st.mtimeMs} ${st.mode.toString(8)}`);
    } catch (e) {
      s.set(`file ${file}`, `<${(e as NodeJS.ErrnoException).code}>`);
    }
  }
  return s;
}

/** Each difference as "what: before -> after". */
export function diffHostState(before: HostState, after: HostState): string[] {
  const out: string[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(key);
    const b = after.get(key);
    if (a === b) continue;
    // Top-level cgroups: only a disappearance is ours to answer for (others add theirs).
    if (key === 'cgroups at the top level') {
      const now = new Set((b ?? '').split(' '));
      const gone = (a ?? '').split(' ').filter((d) => d && !now.has(d) && !fs.existsSync(d));
      if (gone.length) out.push(`cgroups removed: ${gone.join(' ')}`);
      continue;
    }
    out.push(`${key}: ${JSON.stringify(a?.trim() ?? '(absent)')} -> ${JSON.stringify(b?.trim() ?? '(absent)')}`);
  }
  return out;
}

/** Puts back sysctls (hostname and domainname included) a case changed, so later cases are judged alone. */
export function restoreSysctls(before: HostState): void {
  for (const key of WATCHED_SYSCTLS) {
    const value = before.get(`sysctl ${key}`);
    if (value === undefined || value.startsWith('<')) continue;
    if (read(sysctlPath(key)) !== value) fs.writeFileSync(sysctlPath(key), value.trim());
  }
}
