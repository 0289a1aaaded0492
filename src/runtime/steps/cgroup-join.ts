// Lesson 7: a process joins a cgroup when its pid is written to the cgroup's cgroup.procs file; from then
// on the cgroup's limits apply to it, and every child it forks is born in the same cgroup. The kernel
// takes one pid per write(2), and refuses a pid that has exited (ESRCH).
import * as path from 'node:path';
import { O_CLOEXEC, O_WRONLY, close, open, write } from '../../linux/index.js';

export function joinCgroup(dir: string, pid: number): void {
  const procs = path.join(dir, 'cgroup.procs');
  const fd = open(procs, O_WRONLY | O_CLOEXEC);
  try {
    write(fd, String(pid), procs);
  } finally {
    close(fd);
  }
}
