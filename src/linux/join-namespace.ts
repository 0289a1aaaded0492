// Running code with the calling thread in another process's namespace and always coming back: setns is per
// thread, so only this thread moves. Not re-exported by index.ts: the learner's syscalls stay the plain calls
// (lesson 3 writes this dance itself).
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, close, open } from './fs.js';
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWUTS, setns } from './namespaces.js';

/** The namespaces a thread can join and leave again, by their names in /proc/<pid>/ns/. */
const JOINABLE = { net: CLONE_NEWNET, pid: CLONE_NEWPID, uts: CLONE_NEWUTS, ipc: CLONE_NEWIPC, cgroup: CLONE_NEWCGROUP } as const;
export type JoinableNamespace = keyof typeof JOINABLE;

/**
 * Runs `use` with the calling thread in the `type` namespace that the open file `fd` (at `path`, for
 * messages) refers to, and always moves it back: setns is per thread, and whatever this thread did next
 * (sockets, spawned children) would otherwise land in that namespace.
 */
export function withNamespaceFd<T>(fd: number, type: JoinableNamespace, use: () => T, path?: string): T {
  const ownPath = `/proc/thread-self/ns/${type}`;
  const own = open(ownPath, O_RDONLY | O_CLOEXEC);
  try {
    setns(fd, JOINABLE[type], path);
    try {
      return use();
    } finally {
      setns(own, JOINABLE[type], ownPath);
    }
  } finally {
    close(own);
  }
}

/**
 * withNamespaceFd for the namespace file at `path` (/proc/<pid>/ns/<type> or a bind mount of one). Opened
 * non-blocking: a FIFO given as the path must not hang us in open(); setns then refuses it (EINVAL).
 */
export function withNamespaceAt<T>(path: string, type: JoinableNamespace, use: () => T): T {
  const fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  try {
    return withNamespaceFd(fd, type, use, path);
  } finally {
    close(fd);
  }
}

/** withNamespaceAt for the `type` namespace of process `pid`. */
export function withNamespaceOf<T>(pid: number, type: JoinableNamespace, use: () => T): T {
  return withNamespaceAt(`/proc/${pid}/ns/${type}`, type, use);
}
