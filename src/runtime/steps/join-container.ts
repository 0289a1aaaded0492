// Lesson 14: exec joins a running container instead of making one. Each namespace of the container's
// init is a file, /proc/<pid>/ns/<type>; setns(fd, nstype) moves the calling thread into the namespace the
// fd holds, when nstype is that namespace's CLONE_NEW* flag (or 0). Every fd is opened before the first
// setns: once the mount namespace is joined, /proc is the container's and /proc/<pid> names another
// process or none. The mount namespace also needs unshare(CLONE_FS) first, as Node's threads share
// their root and cwd. The PID namespace only decides where the caller's next children are born; the
// cgroups are joined by writing the process's pid into each cgroup.procs.
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
} from '../../linux/index.js';

// The user namespace is not here: a multithreaded process cannot join one (EINVAL), so the runtime has
// nsenter join it before Node starts. Nor is pid: see spawnInPidNamespace. The mount namespace is last.
const JOINED: Array<[type: string, nstype: number]> = [
  ['cgroup', CLONE_NEWCGROUP],
  ['ipc', CLONE_NEWIPC],
  ['uts', CLONE_NEWUTS],
  ['net', CLONE_NEWNET],
  ['mnt', CLONE_NEWNS],
];

function isOurs(pid: number, type: string): boolean {
  return fs.readlinkSync(`/proc/${pid}/ns/${type}`) === fs.readlinkSync(`/proc/thread-self/ns/${type}`);
}

/** Moves this thread into the namespaces of process `pid` that are not already ours. */
export function joinNamespaces(pid: number): void {
  const opened: Array<{ type: string; nstype: number; fd: number }> = [];
  try {
    for (const [type, nstype] of JOINED) {
      if (!isOurs(pid, type)) opened.push({ type, nstype, fd: open(`/proc/${pid}/ns/${type}`, O_RDONLY | O_CLOEXEC) });
    }
    for (const { type, nstype, fd } of opened) {
      if (nstype === CLONE_NEWNS) unshare(CLONE_FS);
      setns(fd, nstype, `/proc/${pid}/ns/${type}`);
    }
  } finally {
    for (const { fd } of opened) close(fd);
  }
}

/** Calls spawnChild() with this thread in the PID namespace of process `pid`, so the child is born there. */
export function spawnInPidNamespace<T>(pid: number, spawnChild: () => T): T {
  if (isOurs(pid, 'pid')) return spawnChild();
  const theirs = open(`/proc/${pid}/ns/pid`, O_RDONLY | O_CLOEXEC);
  const ours = open('/proc/thread-self/ns/pid', O_RDONLY | O_CLOEXEC);
  try {
    setns(theirs, CLONE_NEWPID, `/proc/${pid}/ns/pid`);
    try {
      return spawnChild();
    } finally {
      setns(ours, CLONE_NEWPID, '/proc/thread-self/ns/pid');
    }
  } finally {
    close(theirs);
    close(ours);
  }
}

/** Moves process `pid` into each of the container's cgroups (one directory per hierarchy). */
export function joinCgroups(dirs: readonly string[], pid: number): void {
  for (const dir of dirs) {
    const procs = path.join(dir, 'cgroup.procs');
    const fd = open(procs, O_WRONLY | O_CLOEXEC);
    try {
      write(fd, String(pid), procs);
    } finally {
      close(fd);
    }
  }
}
