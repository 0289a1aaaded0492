// LESSON 14 — exec: joining a running container
//
// exec runs a new process in a container that is already running: it joins the namespaces and cgroups of
// the container's init instead of making new ones. /proc/<pid>/ns/<type> holds each namespace of process
// <pid>; setns(fd, nstype) moves this thread into it (nstype: the CLONE_NEW* flag of that type).
// Write joinNamespaces(pid): open the fds of the init's cgroup, ipc, uts, net and mnt namespaces that are
// not ours already (compare readlink of /proc/<pid>/ns/<type> and /proc/thread-self/ns/<type>), ALL before
// the first setns (afterwards /proc is the container's), then setns into each, mnt last and after
// unshare(CLONE_FS); close the fds in a finally. spawnInPidNamespace(pid, spawnChild): setns into the
// init's PID namespace, call spawnChild(), setns back. joinCgroups(dirs, pid): pid into each cgroup.procs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CLONE_FS,
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUTS,
  O_CLOEXEC,
  O_RDONLY,
  O_WRONLY,
  close,
  open,
  setns,
  unshare,
  write,
} from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function joinNamespaces(pid: number): void {
  // TODO(lesson 14): open every namespace of `pid` that is not ours, then setns into each, mnt last.
  throw new NotWrittenYet(14, 'joinNamespaces', 'join-container.ts', "open(`/proc/${pid}/ns/${type}`, O_RDONLY | O_CLOEXEC) for cgroup, ipc, uts, net, mnt first; then setns(fd, CLONE_NEW...) each, unshare(CLONE_FS) before mnt");
}

export function spawnInPidNamespace<T>(pid: number, spawnChild: () => T): T {
  // TODO(lesson 14): spawn the child with this thread in the PID namespace of `pid`, then come back.
  throw new NotWrittenYet(14, 'spawnInPidNamespace', 'join-container.ts', "as in lesson 3, but setns(open(`/proc/${pid}/ns/pid`, ...), CLONE_NEWPID) instead of unshare; setns back to /proc/thread-self/ns/pid in a finally");
}

export function joinCgroups(dirs: readonly string[], pid: number): void {
  // TODO(lesson 14): write pid, as text, into <dir>/cgroup.procs of every dir.
  throw new NotWrittenYet(14, 'joinCgroups', 'join-container.ts', "for each dir: open(path.join(dir, 'cgroup.procs'), O_WRONLY | O_CLOEXEC), write(fd, String(pid)), close(fd)");
}
