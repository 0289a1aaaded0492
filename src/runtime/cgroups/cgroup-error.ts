// CgroupError: every failure of the cgroup layer, with enough detail to fix it.
//
// A write to a cgroup file fails with a bare errno (EINVAL, EBUSY, ENOSPC...). The kernel never says *why*,
// so `hintFor()` turns (file, errno) into the sentence a learner needs: what the kernel checked and what to do.

import { basename } from 'node:path';
import { RuntimeError } from '../runtime-error.js';

export interface CgroupErrorDetails {
  /** The cgroup file or directory involved (absolute path), if any. */
  path?: string;
  /** The value that was being written, if any. */
  value?: string;
  /** The errno code reported by the kernel ('EINVAL', 'EBUSY', ...), if the failure came from a syscall. */
  code?: string;
  cause?: unknown;
}

export class CgroupError extends RuntimeError {
  readonly path: string | undefined;
  readonly value: string | undefined;
  readonly code: string | undefined;

  constructor(message: string, details: CgroupErrorDetails = {}) {
    super(message);
    this.name = 'CgroupError';
    this.path = details.path;
    this.value = details.value;
    this.code = details.code;
    if (details.cause !== undefined) (this as { cause?: unknown }).cause = details.cause;
  }
}

/** The errno code of a node:fs error ('ENOENT', ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Build the error for a failed write of `value` to `path`. */
export function writeError(path: string, value: string, err: unknown, extraHint?: string): CgroupError {
  const code = errnoCode(err) ?? 'EIO';
  const hint = extraHint ?? hintFor(path, code, value);
  return new CgroupError(`cannot write "${value}" to ${path}: ${code} — ${hint}`, { path, value, code, cause: err });
}

/** A learner-friendly explanation of why writing `value` to the cgroup file `path` failed with `code`. */
export function hintFor(path: string, code: string, value = ''): string {
  const file = basename(path);
  const isProcs = file === 'cgroup.procs' || file === 'tasks' || file === 'cgroup.threads';
  switch (code) {
    case 'ENOENT':
      if (isProcs) return 'the cgroup directory does not exist (was it removed, or never created?)';
      return `${file} does not exist: the controller is not available in this cgroup ` +
        '(cgroup v1: its hierarchy is not mounted; cgroup v2: it is not enabled in the parent\'s cgroup.subtree_control), ' +
        'or the kernel was built without this feature';
    case 'EACCES':
    case 'EPERM':
      if (file === 'devices.allow') return 'a v1 devices cgroup can never allow more than its parent allows';
      return 'permission denied: the runtime must run as root, and the parent cgroup must allow this';
    case 'ESRCH':
      return `no such process: pid ${value} has already exited`;
    case 'ENOSPC':
      if (isProcs || file.startsWith('cpuset.')) {
        return 'cpuset.cpus or cpuset.mems of this cgroup is empty, and a cgroup without CPUs or memory nodes cannot hold ' +
          'a process; copy the parent\'s cpuset.cpus and cpuset.mems first';
      }
      return 'the kernel has no room for this (too many cgroups, or a limit such as cgroup.max.descendants was reached)';
    case 'EBUSY':
      if (isProcs) {
        return 'cgroup v2 "no internal processes" rule: a cgroup that has controllers enabled in its cgroup.subtree_control ' +
          'cannot hold processes itself; put processes in a leaf cgroup';
      }
      if (file === 'cgroup.subtree_control') {
        return 'cgroup v2 "no internal processes" rule: controllers can only be enabled for the children of a cgroup that has ' +
          'no processes of its own (or is the root); move its processes into a child cgroup first';
      }
      if (file === 'memory.limit_in_bytes' || file === 'memory.max' || file === 'memory.memsw.limit_in_bytes') {
        return 'the cgroup already uses more memory than the new limit, and the kernel could not reclaim enough';
      }
      if (file.startsWith('cpuset.')) return 'CPUs or memory nodes still used by a child cgroup cannot be removed from this one';
      return 'the cgroup is busy (it still has processes or child cgroups)';
    case 'EINVAL':
      return invalidValueHint(file, value);
    case 'ERANGE':
      if (file.startsWith('cpuset.')) {
        return `"${value}" names a ${file === 'cpuset.cpus' ? 'CPU' : 'memory node'} number this machine does not have ` +
          `(see the parent's ${file})`;
      }
      return `the value "${value}" is out of the range ${file} accepts`;
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
      if (isProcs) return 'the target cgroup is in an invalid (threaded) state for processes';
      return 'this kernel does not support this setting (for example kernel-memory limits were removed in Linux 6.x)';
    case 'EROFS':
      return 'the cgroup filesystem is mounted read-only here';
    default:
      return 'unexpected error from the cgroup filesystem';
  }
}

/** Why a cgroup file refused a value (EINVAL): what each file takes. */
function invalidValueHint(file: string, value: string): string {
  switch (file) {
    case 'memory.limit_in_bytes':
      return 'the memory limit must be -1 or a positive byte count, and (cgroup v1) not above memory.memsw.limit_in_bytes ' +
        '(memory+swap): raise memsw first';
    case 'memory.memsw.limit_in_bytes':
      return 'memory+swap (memsw) must be -1 or at least memory.limit_in_bytes; note that OCI memory.swap means ' +
        'memory+swap, so it must be >= memory.limit';
    case 'memory.max':
    case 'memory.low':
    case 'memory.high':
    case 'memory.swap.max':
      return `${file} takes a byte count or "max"`;
    case 'cpu.cfs_quota_us':
    case 'cpu.cfs_period_us':
    case 'cpu.max':
      return 'the CPU quota must be -1/"max" or at least 1000 µs, the period between 1000 and 1000000 µs, and ' +
        'quota/period may not exceed what the parent cgroup allows';
    case 'cpu.rt_runtime_us':
    case 'cpu.rt_period_us':
      return 'realtime runtime must not exceed the period, nor what the parent cgroup has left in its cpu.rt_runtime_us';
    case 'cpu.shares':
      return 'cpu.shares takes a number between 2 and 262144';
    case 'cpu.weight':
      return 'cpu.weight takes a number between 1 and 10000';
    case 'cpu.idle':
      return 'cpu.idle takes 0 or 1';
    case 'cpuset.cpus':
    case 'cpuset.mems':
      return `the ${file === 'cpuset.cpus' ? 'CPUs' : 'memory nodes'} "${value}" must exist on this machine and be ` +
        `a subset of the parent's ${file} (syntax like "0-2,4")`;
    case 'pids.max':
      return 'pids.max takes a non-negative number or "max"';
    case 'devices.allow':
    case 'devices.deny':
      return 'a device rule looks like "c 1:3 rwm": type a/c/b, major:minor (numbers or *), access from r, w, m';
    case 'cgroup.subtree_control':
      return 'the controller name is unknown, or it is not listed in this cgroup\'s cgroup.controllers';
    case 'freezer.state':
      return 'freezer.state takes FROZEN or THAWED';
    case 'cgroup.freeze':
    case 'cgroup.kill':
      return `${file} takes 0 or 1`;
    case 'cgroup.procs':
    case 'tasks':
      return 'the value must be a process id';
    default:
      return `the kernel rejected the value "${value}" for ${file}`;
  }
}
