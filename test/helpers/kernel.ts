// Reading a container's kernel state from the outside (the host side of /proc), so the suite checks
// what the kernel did and not what the runtime claims.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'] as const;
export type NamespaceName = (typeof NAMESPACES)[number];

/** OCI namespace type -> /proc/<pid>/ns entry name. */
export const OCI_NS_TO_PROC: Record<string, NamespaceName> = {
  cgroup: 'cgroup',
  ipc: 'ipc',
  mount: 'mnt',
  network: 'net',
  pid: 'pid',
  user: 'user',
  uts: 'uts',
};

/** The namespace identity (e.g. `net:[4026531840]`) of a process, one per namespace type. */
export function nsInodes(pid: number | 'self'): Record<NamespaceName, string> {
  const out = {} as Record<NamespaceName, string>;
  for (const ns of NAMESPACES) out[ns] = fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
  return out;
}

/** /proc/<pid>/status as key -> raw value (tabs collapsed). */
export function procStatus(pid: number | 'self'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim().replace(/\s+/g, ' ');
  }
  return out;
}

/** Capability names in kernel order (include/uapi/linux/capability.h). */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** The bit mask of a list of capability names. */
export function capMask(names: readonly string[]): bigint {
  let mask = 0n;
  for (const name of names) {
    const bit = CAPABILITIES.indexOf(name as (typeof CAPABILITIES)[number]);
    if (bit < 0) throw new Error(`unknown capability ${name}`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** CapInh/CapPrm/CapEff/CapBnd/CapAmb of a process as bit masks. */
export function capSets(pid: number): { inh: bigint; prm: bigint; eff: bigint; bnd: bigint; amb: bigint } {
  const s = procStatus(pid);
  const hex = (k: string) => BigInt('0x' + s[k]);
  return { inh: hex('CapInh'), prm: hex('CapPrm'), eff: hex('CapEff'), bnd: hex('CapBnd'), amb: hex('CapAmb') };
}

/** Masks the host can have at all (bits the kernel knows), to compare like with like. */
export function capNames(mask: bigint): string[] {
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** NSpid of a process: its pid in each pid namespace, outermost first. */
export function nsPids(pid: number): number[] {
  return procStatus(pid).NSpid.split(' ').map(Number);
}

export interface Limit {
  soft: string;
  hard: string;
}

/** /proc/<pid>/limits keyed by the OCI rlimit name (RLIMIT_NOFILE, ...). */
export function rlimits(pid: number): Record<string, Limit> {
  const names: Record<string, string> = {
    'Max cpu time': 'RLIMIT_CPU',
    'Max file size': 'RLIMIT_FSIZE',
    'Max data size': 'RLIMIT_DATA',
    'Max stack size': 'RLIMIT_STACK',
    'Max core file size': 'RLIMIT_CORE',
    'Max resident set': 'RLIMIT_RSS',
    'Max processes': 'RLIMIT_NPROC',
    'Max open files': 'RLIMIT_NOFILE',
    'Max locked memory': 'RLIMIT_MEMLOCK',
    'Max address space': 'RLIMIT_AS',
    'Max file locks': 'RLIMIT_LOCKS',
    'Max pending signals': 'RLIMIT_SIGPENDING',
    'Max msgqueue size': 'RLIMIT_MSGQUEUE',
    'Max nice priority': 'RLIMIT_NICE',
    'Max realtime priority': 'RLIMIT_RTPRIO',
    'Max realtime timeout': 'RLIMIT_RTTIME',
  };
  const out: Record<string, Limit> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').slice(1)) {
    const label = line.slice(0, 26).trim();
    const rest = line.slice(26).trim().split(/\s+/);
    if (names[label]) out[names[label]] = { soft: rest[0], hard: rest[1] };
  }
  return out;
}

export interface CgroupEntry {
  hierarchy: string;
  /** Controllers of a v1 hierarchy (`memory`, `name=systemd`, ...); [] for the v2 line. */
  controllers: string[];
  path: string;
}

/** /proc/<pid>/cgroup. */
export function procCgroups(pid: number | 'self'): CgroupEntry[] {
  return fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [hierarchy, ctrl, ...rest] = line.split(':');
      return { hierarchy, controllers: ctrl ? ctrl.split(',') : [], path: rest.join(':') };
    });
}

/** The cgroup path of a process in the v1 hierarchy of `controller` (e.g. `memory`). */
export function cgroupPathOf(pid: number | 'self', controller: string): string | undefined {
  return procCgroups(pid).find((e) => e.controllers.includes(controller))?.path;
}

export interface MountEntry {
  id: number;
  parent: number;
  /** Root of the mount within its filesystem. */
  root: string;
  /** Mount point, relative to the reading process's root. */
  mountPoint: string;
  options: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** /proc/<pid>/mountinfo: the mounts a process sees, mount points relative to its root. */
export function mountinfo(pid: number | 'self'): MountEntry[] {
  return fs
    .readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left, right] = line.split(' - ');
      const f = left.split(' ');
      const r = right.split(' ');
      return {
        id: Number(f[0]),
        parent: Number(f[1]),
        root: unescape(f[3]),
        mountPoint: unescape(f[4]),
        options: f[5].split(','),
        fstype: r[0],
        source: unescape(r[1]),
        superOptions: (r[2] ?? '').split(','),
      };
    });
}

/** Where the v1 hierarchy with `controller` is mounted on the host (or the v2 one for 'unified'). */
export function cgroupMount(controller: string): string | undefined {
  for (const m of mountinfo('self')) {
    if (controller === 'unified' && m.fstype === 'cgroup2') return m.mountPoint;
    if (m.fstype === 'cgroup' && m.superOptions.includes(controller)) return m.mountPoint;
  }
  return undefined;
}

/** The host directory of a process's cgroup in the hierarchy of `controller`. */
export function cgroupDirOf(pid: number, controller: string): string | undefined {
  const mp = cgroupMount(controller);
  const p = cgroupPathOf(pid, controller);
  if (!mp || p === undefined) return undefined;
  return path.join(mp, p);
}

/** The container's hostname, read inside its UTS namespace. */
export function hostnameOf(pid: number): string {
  return execFileSync('nsenter', ['--target', String(pid), '--uts', 'cat', '/proc/sys/kernel/hostname'], {
    encoding: 'utf8',
  }).trim();
}

/** Pids visible in the container's own /proc (through /proc/<pid>/root, i.e. its mount tree). */
export function pidsSeenInside(pid: number): number[] {
  return fs
    .readdirSync(`/proc/${pid}/root/proc`)
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .sort((a, b) => a - b);
}

/** A file inside the container, as the container sees it (its mounts apply). */
export function containerPath(pid: number, p: string): string {
  return path.join(`/proc/${pid}/root`, p);
}

export function processExists(pid: number): boolean {
  try {
    // A zombie still has a /proc entry; it is dead for our purposes.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /\) (\S)/.exec(stat)?.[1] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true or the time is up. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
