// LESSON 7 — cgroups: memory, pids and cpu limits
//
// A cgroup is a directory of the cgroup filesystem; its files hold limits (memory.max, pids.max...).
// A process joins the cgroup when its pid is written to the directory's cgroup.procs file, and every
// child it forks afterwards is born there too. Write joinCgroup(dir, pid): open <dir>/cgroup.procs for
// writing, write the pid as text in one write, close the file.
import * as path from 'node:path';
import { O_CLOEXEC, O_WRONLY, close, open, write } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function joinCgroup(dir: string, pid: number): void {
  // TODO(lesson 7): write `pid` into <dir>/cgroup.procs.
  throw new NotWrittenYet(7, 'joinCgroup', 'cgroup-join.ts', "open(path.join(dir, 'cgroup.procs'), O_WRONLY | O_CLOEXEC), then write(fd, String(pid)), then close(fd)");
}
