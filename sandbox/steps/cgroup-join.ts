// LESSON 7 — cgroups: memory, pids and cpu limits
//
// A cgroup is a directory of the cgroup filesystem; its files hold limits (memory.max, pids.max...).
// Write createCgroup(parent, name): mkdir <parent>/<name> and return its path.
// Write setLimits(dir, limits): a v2 cgroup has a cgroup.controllers file; write memory.max,
// memory.swap.max ("0"), pids.max and cpu.max ("QUOTA PERIOD"). A v1 cgroup lives in a tree per
// controller: write memory.limit_in_bytes (and memory.memsw.limit_in_bytes), pids.max, cpu.cfs_period_us
// and cpu.cfs_quota_us. Write each file only if this directory has it: a v1 memory cgroup has no pids.max.
// Write joinCgroup(dir, pid): the pid, as text, in one write to <dir>/cgroup.procs. The launcher calls
// all three for each hierarchy, in this order: a process should never run in a cgroup without its limits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_CLOEXEC, O_WRONLY, close, open, write } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
}

export function createCgroup(parent: string, name: string): string {
  // TODO(lesson 7): make the directory <parent>/<name>, return it.
  throw new NotWrittenYet(7, 'createCgroup', 'cgroup-join.ts', 'const dir = path.join(parent, name); fs.mkdirSync(dir, 0o755); return dir');
}

export function setLimits(dir: string, limits: CgroupLimits): void {
  // TODO(lesson 7): write the limits, by the file names of this cgroup's version.
  throw new NotWrittenYet(7, 'setLimits', 'cgroup-join.ts', "v2 if fs.existsSync(path.join(dir, 'cgroup.controllers')); each file: open(file, O_WRONLY | O_CLOEXEC), one write(fd, String(value)), close(fd)");
}

export function joinCgroup(dir: string, pid: number): void {
  // TODO(lesson 7): write `pid` into <dir>/cgroup.procs.
  throw new NotWrittenYet(7, 'joinCgroup', 'cgroup-join.ts', "open(path.join(dir, 'cgroup.procs'), O_WRONLY | O_CLOEXEC), then write(fd, String(pid)), then close(fd)");
}
