// What a fuzzed config.json must never change on the host, read before and after each case and compared.
//
// The machine is shared with other test runs, so only state no other run touches is compared as a whole:
//   - a canary tree next to the bundles (paths, modes, owners, contents), reachable only by traversal;
//   - mounts outside /tmp, /var/lib/tslab and /run/netns (other runs mount there), and any under our own dirs;
//   - a decoy cgroup of ours in every v1 hierarchy, holding a canary process: its limits and members;
//   - the long-lived top-level cgroups of each hierarchy (none may disappear);
//   - host sysctls the fuzzer sets, hostname and domainname;
//   - a few host files a traversal would reach (/etc/passwd, /etc/hosts...);
//   - the host's /dev (every entry's type, device numbers, mode, owner and inode, so a node replaced by an
//     identical-looking one shows) and the entries of / itself: a runtime that takes the host's root for the
//     container's builds /dev and mount points there. Not entered: other filesystems mounted inside them
//     (/dev/pts, /dev/shm: the machine churns those, and their mounts are compared as mounts).
//
// The first three are reachable by the fuzzer's cases alone ("ours"); the rest are shared with everything
// else running on the machine, so a change there is blamed on a case only if the case alone repeats it.
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

/** Host directories whose entries are compared, and how deep (within the directory's own filesystem). */
export const HOST_TREES = [
  { dir: '/dev', depth: 4 },
  { dir: '/', depth: 1 },
];

export interface HostWatch {
  /** Dirs of ours whose mounts always count (canary, bind sources, bundles). */
  ownDirs: string[];
  canary: string;
  decoys: string[];
  /** Top-level cgroups made before this time (ms since the epoch) count as the host's. */
  settledBefore: number;
  /** The host directories compared entry by entry (default HOST_TREES; a test points it at a copy). */
  trees?: { dir: string; depth: number }[];
}

export type HostState = Map<string, string>;

/** One difference: `what` reads "key: before -> after"; `ours` if only the fuzzer's cases reach that state. */
export interface HostChange {
  what: string;
  ours: boolean;
}

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

const TYPE_NAMES: [(st: fs.BigIntStats) => boolean, string][] = [
  [(st) => st.isCharacterDevice(), 'char'],
  [(st) => st.isBlockDevice(), 'block'],
  [(st) => st.isSymbolicLink(), 'link'],
  [(st) => st.isDirectory(), 'dir'],
  [(st) => st.isFile(), 'file'],
  [(st) => st.isFIFO(), 'fifo'],
  [(st) => st.isSocket(), 'socket'],
];

/** glibc's major()/minor() of a dev_t. */
function deviceNumbers(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/**
 * Every entry of a host directory, to `depth`: type, device numbers, permission bits, owner, a link's
 * target, the inode and, but for directories, the change time (a node deleted and made again may get its
 * inode number back, never its ctime). Not the modification time: ttys' changes on use; nor a directory's
 * ctime: it changes with its entries. Directories on another filesystem (a mount inside) are not entered.
 */
function walkHostTree(dir: string, depth: number, out: HostState, topDev?: bigint): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (e) {
    out.set(`tree ${dir}`, `<${(e as NodeJS.ErrnoException).code ?? 'unreadable'}>`);
    return;
  }
  const dev = topDev ?? fs.statSync(dir, { bigint: true }).dev;
  for (const name of names) {
    const p = path.join(dir, name);
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(p, { bigint: true });
    } catch (e) {
      out.set(`tree ${p}`, `<${(e as NodeJS.ErrnoException).code ?? 'unreadable'}>`);
      continue;
    }
    const type = TYPE_NAMES.find(([is]) => is(st))?.[1] ?? 'unknown';
    let what = `${type} mode ${(st.mode & 0o7777n).toString(8)} owner ${st.uid}:${st.gid} inode ${st.ino}`;
    if (!st.isDirectory()) what += ` ctime ${st.ctimeNs}`;
    if (st.isCharacterDevice() || st.isBlockDevice()) what += ` device ${deviceNumbers(st.rdev)}`;
    if (st.isSymbolicLink()) what += ` -> ${fs.readlinkSync(p)}`;
    out.set(`tree ${p}`, what);
    if (st.isDirectory() && depth > 1 && st.dev === dev) walkHostTree(p, depth - 1, out, dev);
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
  for (const { dir, depth } of watch.trees ?? HOST_TREES) walkHostTree(dir, depth, s);
  return s;
}

/** State only the fuzzer's own cases can reach: the canary, the decoy cgroups, mounts in our own dirs. */
function isOurs(key: string, watch: HostWatch): boolean {
  if (key.startsWith('canary ') || key.startsWith('cgroup ')) return true;
  const mount = /^mount \d+ (.*)$/.exec(key);
  return mount !== null && watch.ownDirs.some((d) => mount[1] === d || mount[1].startsWith(`${d}/`));
}

/** Each difference as "what: before -> after", and whether the state is the fuzzer's own. */
export function diffHostState(before: HostState, after: HostState, watch: HostWatch): HostChange[] {
  const out: HostChange[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(key);
    const b = after.get(key);
    if (a === b) continue;
    // Top-level cgroups: only a disappearance is ours to answer for (others add theirs).
    if (key === 'cgroups at the top level') {
      const now = new Set((b ?? '').split(' '));
      const gone = (a ?? '').split(' ').filter((d) => d && !now.has(d) && !fs.existsSync(d));
      if (gone.length) out.push({ what: `cgroups removed: ${gone.join(' ')}`, ours: false });
      continue;
    }
    out.push({ what: `${key}: ${JSON.stringify(a?.trim() ?? '(absent)')} -> ${JSON.stringify(b?.trim() ?? '(absent)')}`, ours: isOurs(key, watch) });
  }
  return out;
}

/**
 * Puts back the sysctls (hostname and domainname included) that changed between two snapshots around one
 * case run alone, unless something else has changed them again since: so later cases are judged alone, and
 * a value another process on the machine set is never undone.
 */
export function restoreSysctls(before: HostState, after: HostState): void {
  for (const key of WATCHED_SYSCTLS) {
    const was = before.get(`sysctl ${key}`);
    const became = after.get(`sysctl ${key}`);
    if (was === undefined || was.startsWith('<') || was === became) continue;
    if (read(sysctlPath(key)) === became) fs.writeFileSync(sysctlPath(key), was.trim());
  }
}
