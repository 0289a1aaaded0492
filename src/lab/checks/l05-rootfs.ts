// Lesson 5: the root filesystem, checked on the last container of the lesson (the pivot_root one). Its root
// holds the marker only the lab's rootfs copy has, the chroot breakout run inside it ends still inside
// (told by the breakout's exit status), and its mount table holds no mount of the host's root filesystem
// (the old root was detached, not just hidden); its working directory is inside its root (a cwd left in the
// detached old root is a way out of it).
import * as fs from 'node:fs';
import { readMountinfo } from '../../linux/mountinfo.js';
import { requireContainer, verdict } from './common.js';
import type { LessonCheck } from './types.js';

const MARKER = '.tslab-lesson-root';
const STILL_INSIDE = 10;
const ESCAPED = 11;

/** chroot into /jail with the old cwd kept (busybox nsenter --root), climb with "..", and tell by the exit status. */
const BREAKOUT =
  'mkdir -p /jail && cp /bin/busybox /jail/busybox || exit 2\n' +
  `nsenter --root=/jail /busybox sh -c 'cd ../../../../../../..; if /busybox test -e ${MARKER}; then exit ${STILL_INSIDE}; else exit ${ESCAPED}; fi'\n` +
  'status=$?\nrm -rf /jail\nexit $status';

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const results = [
    verdict(
      'the container was started with pivot_root',
      container.rootSwitch === 'pivot',
      `root switched by ${container.rootSwitch}`,
      'pivot',
      'the lesson\'s last "switch the feature on" cell (the one without chroot) restarts the container with pivot_root: run it',
    ),
  ];

  const marker = fs.existsSync(`/proc/${pid}/root/${MARKER}`);
  results.push(
    verdict(
      `its root is the lesson rootfs (/${MARKER} is there)`,
      marker,
      marker ? `/proc/${pid}/root/${MARKER} exists` : `no ${MARKER} at /proc/${pid}/root`,
      `/proc/${pid}/root/${MARKER}`,
      'pivotInto must make `rootfs` the new root: fchdir(newRoot), pivotRoot(".", "."), then detach the old root and chdir("/")',
    ),
  );

  const run = await ctx.inContainer(BREAKOUT, 15_000);
  const outcome =
    run.code === STILL_INSIDE ? 'it stayed inside' : run.code === ESCAPED ? 'it ESCAPED: ".." climbed out of the container root' : `it could not run (status ${run.code}: ${run.stderr.trim().split('\n').pop() ?? ''})`;
  results.push(
    verdict(
      'the chroot breakout stays inside',
      run.code === STILL_INSIDE,
      outcome,
      'it stayed inside',
      container.rootSwitch === 'chroot'
        ? 'chroot is escapable: run the "switch the feature on" cell that uses pivot_root'
        : 'after pivot_root the old root must be unmounted (umount2(oldRoot, MNT_DETACH)), and the process must chdir("/") into the new root',
    ),
  );

  // The init's cwd and root, followed by the kernel: the same directory (dev:ino) after chdir('/').
  const where = (link: string) => {
    try {
      const st = fs.statSync(`/proc/${pid}/${link}`);
      return `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
  };
  const cwd = where('cwd');
  const root = where('root');
  const hostRootDir = fs.statSync('/');
  results.push(
    verdict(
      "its working directory is its root (/)",
      cwd !== undefined && cwd === root,
      cwd === `${hostRootDir.dev}:${hostRootDir.ino}`
        ? "its cwd is the host's root directory, in the detached old root: '..' and relative paths lead out of the container"
        : `cwd ${cwd ?? 'unreadable'}, root ${root ?? 'unreadable'} (device:inode)`,
      'the cwd and the root the same directory',
      'end pivotInto with chdir("/"): after fchdir(oldRoot) and umount2 the cwd is still the old root, outside the new one',
    ),
  );

  // The host's root filesystem, as a mount of its whole tree ("/" inside it), must not be in the container's table.
  const hostRoot = readMountinfo('self').filter((m) => m.mountPoint === '/').pop();
  const leftovers = hostRoot ? readMountinfo(pid).filter((m) => m.device === hostRoot.device && m.root === hostRoot.root) : [];
  results.push(
    verdict(
      'the old root is detached',
      hostRoot !== undefined && leftovers.length === 0,
      leftovers.length
        ? `the host's root (${hostRoot!.device} ${hostRoot!.root}) is still mounted in it at ${leftovers.map((m) => m.mountPoint).join(', ')}`
        : `${readMountinfo(pid).length} mounts, none of them the host's root (${hostRoot?.device ?? '?'})`,
      "no mount of the host's root filesystem in /proc/<pid>/mountinfo",
      'after pivotRoot(".", "."), fchdir(oldRoot), mount(null, ".", null, MS_SLAVE | MS_REC), umount2(".", MNT_DETACH)',
    ),
  );
  return results;
};
