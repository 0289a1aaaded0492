// Kernel state of one process, read from /proc and /sys, as rows a learner can compare before and after a
// feature is switched on.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { namespaceLink, readStatusField, visiblePids } from '../linux/proc.js';
import { readText } from './checks/common.js';

export type KernelState = Array<[label: string, value: string]>;

const NAMESPACES = ['uts', 'pid', 'mnt', 'net', 'ipc', 'cgroup', 'user'];

function statusField(pid: number, field: string): string {
  return readStatusField(pid, field) ?? '?';
}

/** The hostname of a process's UTS namespace; undefined if it cannot be read. */
export function hostnameOf(pid: number): string | undefined {
  try {
    // The hostname belongs to the UTS namespace of the reader: read it from inside the process's one.
    return execFileSync('nsenter', [`--uts=/proc/${pid}/ns/uts`, 'cat', '/proc/sys/kernel/hostname'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function netDevices(pid: number): string {
  const dev = readText(`/proc/${pid}/net/dev`) ?? '';
  return dev.split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean).join(' ');
}

function cgroupLimit(dirs: string[], files: string[]): string | undefined {
  for (const dir of dirs) {
    for (const file of files) {
      const value = readText(path.join(dir, file));
      if (value !== undefined) return value.trim();
    }
  }
  return undefined;
}

export function readKernelState(pid: number, cgroupDirs: string[] = []): KernelState {
  const rows: KernelState = [['pid (host view)', String(pid)]];
  for (const ns of NAMESPACES) {
    rows.push([`${ns} namespace`, namespaceLink(pid, ns) ?? '?']);
  }
  const pids = visiblePids(pid);
  rows.push(
    ['hostname', hostnameOf(pid) ?? '?'],
    ['NSpid', statusField(pid, 'NSpid')],
    ['uid_map', (readText(`/proc/${pid}/uid_map`) ?? '?').split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/).join(' ')).join(', ')],
    ['root', (() => { try { return fs.readlinkSync(`/proc/${pid}/root`); } catch { return '?'; } })()],
    ['mounts', String((readText(`/proc/${pid}/mountinfo`) ?? '').split('\n').filter(Boolean).length)],
    ['pids in its /proc', pids.length > 8 ? `${pids.length} (${pids.slice(0, 6).join(' ')} ...)` : `${pids.length} (${pids.join(' ')})`],
    ['net devices', netDevices(pid)],
    ['cgroup', (readText(`/proc/${pid}/cgroup`) ?? '').split('\n').filter((l) => /memory|pids|^0::/.test(l)).join('  ')],
  );
  const limits: Array<[string, string[]]> = [
    ['memory limit', ['memory.max', 'memory.limit_in_bytes']],
    ['pids limit', ['pids.max']],
    ['cpu quota', ['cpu.max', 'cpu.cfs_quota_us']],
  ];
  for (const [label, files] of limits) rows.push([label, cgroupLimit(cgroupDirs, files) ?? '-']);
  rows.push(['CapEff', statusField(pid, 'CapEff')], ['CapBnd', statusField(pid, 'CapBnd')], ['NoNewPrivs', statusField(pid, 'NoNewPrivs')], ['Seccomp', statusField(pid, 'Seccomp')]);
  return rows;
}

export interface DiffRow {
  label: string;
  before: string;
  after: string;
  changed: boolean;
}

export function diffKernelState(before: KernelState, after: KernelState): DiffRow[] {
  const old = new Map(before);
  return after.map(([label, value]) => ({ label, before: old.get(label) ?? '-', after: value, changed: (old.get(label) ?? '-') !== value }));
}
