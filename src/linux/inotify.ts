// inotify: file events as readable data on an fd, which Node's own event loop can wait on (no thread).
import * as fs from 'node:fs';
import { check, fn, koffi } from './libc.js';

export const IN_OPEN = 0x20;
const IN_NONBLOCK = 0o4000;
const IN_CLOEXEC = 0o2000000;

/** An inotify fd watching `path` for `mask` events. */
export function inotifyWatch(path: string, mask: number): number {
  const fd = check(fn('int inotify_init1(int flags)')(IN_NONBLOCK | IN_CLOEXEC), 'inotify_init1');
  check(fn('int inotify_add_watch(int fd, const char *path, uint32_t mask)')(fd, path, mask), 'inotify_add_watch', path);
  return fd;
}

/** Resolves once the inotify fd has events, and discards them. Waits on the event loop, not a thread. */
export function nextInotifyEvents(fd: number): Promise<void> {
  return new Promise((resolve) => {
    const handle = koffi.node.poll(fd, { readable: true }, () => {
      handle.close();
      const buf = Buffer.alloc(4096);
      try {
        while (fs.readSync(fd, buf) > 0);
      } catch {
        // EAGAIN: drained.
      }
      resolve();
    });
  });
}
