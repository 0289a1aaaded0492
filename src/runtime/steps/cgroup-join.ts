// Lesson 7: a cgroup is a directory of the cgroup filesystem, made with mkdir(2) below its parent; the
// kernel fills it with the control files of the controllers that hierarchy has. Limits are written to
// those files, one value per write(2), and their names differ between the versions: v2 (one tree, its
// cgroups have cgroup.controllers) says memory.max and cpu.max "QUOTA PERIOD"; v1 (a tree per controller)
// says memory.limit_in_bytes and cpu.cfs_quota_us + cpu.cfs_period_us; pids.max is the same in both.
// A process joins a cgroup when its pid is written to cgroup.procs, limits first: from then on they
// apply to it, and every child it forks is born in the same cgroup. The kernel takes one pid per
// write(2), and refuses a pid that has exited (ESRCH).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_CLOEXEC, O_WRONLY, close, open, write } from '../../linux/index.js';

export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
}

/** Writes `value` to the control file `dir`/`file` in one write(2); no O_CREAT or O_TRUNC: it is a command. */
function writeControl(dir: string, file: string, value: string): void {
  const target = path.join(dir, file);
  const fd = open(target, O_WRONLY | O_CLOEXEC);
  try {
    write(fd, value, target);
  } finally {
    close(fd);
  }
}

/** In v1 each hierarchy holds some controllers only: a limit is written where its file exists. */
function writeIfPresent(dir: string, file: string, value: string): void {
  if (fs.existsSync(path.join(dir, file))) writeControl(dir, file, value);
}

/** Makes the cgroup `name` below `parent`; returns its directory. */
export function createCgroup(parent: string, name: string): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir, 0o755);
  return dir;
}

/** Writes the memory, pids and cpu limits this cgroup's controllers take, by the names of its version. */
export function setLimits(dir: string, limits: CgroupLimits): void {
  if (fs.existsSync(path.join(dir, 'cgroup.controllers'))) {
    writeIfPresent(dir, 'memory.max', String(limits.memoryBytes));
    // v2 counts swap apart from memory: without this, a machine with swap pages out instead of OOM-killing.
    writeIfPresent(dir, 'memory.swap.max', '0');
    writeIfPresent(dir, 'pids.max', String(limits.pids));
    writeIfPresent(dir, 'cpu.max', `${limits.cpuQuotaUs} ${limits.cpuPeriodUs}`);
  } else {
    writeIfPresent(dir, 'memory.limit_in_bytes', String(limits.memoryBytes));
    // memory + swap, only where swap accounting is on; it may not be below memory.limit_in_bytes.
    writeIfPresent(dir, 'memory.memsw.limit_in_bytes', String(limits.memoryBytes));
    writeIfPresent(dir, 'pids.max', String(limits.pids));
    writeIfPresent(dir, 'cpu.cfs_period_us', String(limits.cpuPeriodUs));
    writeIfPresent(dir, 'cpu.cfs_quota_us', String(limits.cpuQuotaUs));
  }
}

export function joinCgroup(dir: string, pid: number): void {
  writeControl(dir, 'cgroup.procs', String(pid));
}
