// Leak detection: what a test run may have left on the host. Read-only: it looks, never fixes.
//
// A scope is identified by
//   prefix      - every container id made in the scope starts with it (cgroup dirs, state dirs, /proc/*/cgroup)
//   paths       - the scope's temp dirs (bundles, roots): mounts and process roots under them are leaks
//   stateRoots  - `--root` state dirs: anything left in them is a leaked container
// and optionally a host snapshot taken before the scope started (network namespaces, veth devices, bridges,
// IPv4 addresses, overlay mounts).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LeakScope {
  prefix: string;
  paths: string[];
  stateRoots: string[];
}

export interface HostSnapshot {
  netns: string[];
  veth: string[];
  bridges: string[];
  addresses: string[];
  overlays: string[];
}

export interface Leak {
  kind: 'mount' | 'cgroup' | 'state' | 'process' | 'netns' | 'veth' | 'bridge' | 'address';
  what: string;
}

/** Other places runtimes keep state by default; checked for entries named with the prefix. */
const DEFAULT_STATE_DIRS = ['/run/tslab', '/run/runc'];
const CGROUP_SCAN_DEPTH = 5;

interface MountLine {
  mountPoint: string;
  fstype: string;
  source: string;
  raw: string;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function readMountinfo(file = '/proc/self/mountinfo'): MountLine[] {
  const out: MountLine[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [left, right = ''] = line.split(' - ');
    const f = left.split(' ');
    const r = right.split(' ');
    out.push({ mountPoint: unescapeMountField(f[4]), fstype: r[0], source: unescapeMountField(r[1] ?? ''), raw: line });
  }
  return out;
}

function under(p: string, dir: string): boolean {
  const d = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  return p === d || p.startsWith(d + '/');
}

/** True if anything is mounted at or below `dir` (in our mount namespace). */
export function isMountedUnder(dir: string): boolean {
  return readMountinfo().some((m) => under(m.mountPoint, dir));
}

/** The host's cgroup hierarchies' mount points (v1 and v2). */
export function cgroupMountPoints(): string[] {
  const seen = new Set<string>();
  for (const m of readMountinfo()) {
    if (m.fstype === 'cgroup' || m.fstype === 'cgroup2') seen.add(m.mountPoint);
  }
  return [...seen];
}

function listNetns(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((l) => l.trim().split(' ')[0])
      .filter(Boolean)
      .sort();
  } catch {
    return [];
  }
}

function listLinks(type: string): string[] {
  try {
    return execFileSync('ip', ['-o', 'link', 'show', 'type', type], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((l) => /^\d+:\s*([^:@\s]+)/.exec(l)?.[1])
      .filter((n): n is string => Boolean(n))
      .sort();
  } catch {
    return [];
  }
}

/** "device address/prefix" for every IPv4 address on the host. */
function listAddresses(): string[] {
  try {
    return execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((l) => /^\d+:\s*(\S+)\s+inet\s+(\S+)/.exec(l))
      .filter((m): m is RegExpExecArray => Boolean(m))
      .map((m) => `${m[1]} ${m[2]}`)
      .sort();
  } catch {
    return [];
  }
}

function listOverlayMounts(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' - ')[1]?.startsWith('overlay '))
    .map((l) => l.split(' ')[4])
    .sort();
}

export function snapshotHost(): HostSnapshot {
  return { netns: listNetns(), veth: listLinks('veth'), bridges: listLinks('bridge'), addresses: listAddresses(), overlays: listOverlayMounts() };
}

/** Directories named `<prefix>*` in every cgroup hierarchy, to a fixed depth. */
export function findPrefixedCgroups(prefix: string, depth = CGROUP_SCAN_DEPTH): string[] {
  const found: string[] = [];
  const walk = (dir: string, left: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name.startsWith(prefix)) found.push(p);
      else if (left > 1) walk(p, left - 1);
    }
  };
  for (const mp of cgroupMountPoints()) walk(mp, depth);
  return found.sort();
}

function findPrefixedEntries(dir: string, prefix: string, depth: number): string[] {
  const found: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.name.startsWith(prefix)) found.push(p);
    else if (e.isDirectory() && depth > 1) found.push(...findPrefixedEntries(p, prefix, depth - 1));
  }
  return found;
}

function readOr(file: string, fallback = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function findProcesses(scope: LeakScope): string[] {
  const found: string[] = [];
  const self = String(process.pid);
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || pid === self) continue;
    const cgroup = readOr(`/proc/${pid}/cgroup`);
    const cmdline = readOr(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
    let root = '';
    try {
      root = fs.readlinkSync(`/proc/${pid}/root`);
    } catch {
      /* gone, or a kernel thread */
    }
    const why: string[] = [];
    if (cgroup.includes(scope.prefix)) why.push('in a test cgroup');
    if (root && scope.paths.some((p) => under(root, p))) why.push(`root ${root}`);
    if (cmdline.includes(scope.prefix) || scope.paths.some((p) => cmdline.includes(p))) why.push('test id/path in cmdline');
    if (why.length) {
      const stat = readOr(`/proc/${pid}/stat`);
      const st = /\) (\S)/.exec(stat)?.[1] ?? '?';
      found.push(`pid ${pid} [${st}] ${cmdline || '(no cmdline)'} (${why.join(', ')})`);
    }
  }
  return found;
}

/** Everything the scope left behind, right now. */
export function findLeaks(scope: LeakScope, snapshot?: HostSnapshot): Leak[] {
  const leaks: Leak[] = [];
  for (const m of readMountinfo()) {
    if (m.raw.includes(scope.prefix) || scope.paths.some((p) => m.raw.includes(p))) {
      leaks.push({ kind: 'mount', what: `${m.mountPoint} (${m.fstype} ${m.source})` });
    }
  }
  for (const cg of findPrefixedCgroups(scope.prefix)) leaks.push({ kind: 'cgroup', what: cg });
  for (const root of scope.stateRoots) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(root);
    } catch {
      /* never created: nothing in it */
    }
    for (const e of entries) leaks.push({ kind: 'state', what: path.join(root, e) });
  }
  for (const dir of DEFAULT_STATE_DIRS) {
    for (const p of findPrefixedEntries(dir, scope.prefix, 3)) leaks.push({ kind: 'state', what: p });
  }
  for (const p of findProcesses(scope)) leaks.push({ kind: 'process', what: p });
  if (snapshot) leaks.push(...hostChanges(snapshot));
  return leaks;
}

/**
 * Network namespaces, veth devices, bridges, IPv4 addresses and overlay mounts that appeared since the
 * snapshot. Whole-host: anything else running on the machine meanwhile shows here too.
 */
export function hostChanges(snapshot: HostSnapshot): Leak[] {
  const leaks: Leak[] = [];
  const netns = new Set(snapshot.netns);
  for (const n of listNetns()) if (!netns.has(n)) leaks.push({ kind: 'netns', what: `${n} (appeared during the run)` });
  const veth = new Set(snapshot.veth);
  for (const v of listLinks('veth')) if (!veth.has(v)) leaks.push({ kind: 'veth', what: `${v} (appeared during the run)` });
  const bridges = new Set(snapshot.bridges);
  for (const b of listLinks('bridge')) if (!bridges.has(b)) leaks.push({ kind: 'bridge', what: `${b} (appeared during the run)` });
  const addresses = new Set(snapshot.addresses);
  for (const a of listAddresses()) if (!addresses.has(a)) leaks.push({ kind: 'address', what: `${a} (appeared during the run)` });
  const overlays = new Set(snapshot.overlays);
  for (const m of listOverlayMounts()) if (!overlays.has(m)) leaks.push({ kind: 'mount', what: `overlay on ${m} (appeared during the run)` });
  return leaks;
}

/**
 * Like findLeaks, but gives the host a moment to settle (a killed process may need a few ms to be
 * reaped) before reporting: returns [] as soon as a check comes back clean.
 */
export async function findLeaksSettled(scope: LeakScope, snapshot?: HostSnapshot, settleMs = 3000): Promise<Leak[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const leaks = findLeaks(scope, snapshot);
    if (leaks.length === 0 || Date.now() > deadline) return leaks;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function formatLeaks(leaks: Leak[]): string {
  return leaks.map((l) => `  ${l.kind}: ${l.what}`).join('\n');
}
