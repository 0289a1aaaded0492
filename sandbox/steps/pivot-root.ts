// LESSON 5 — Root filesystem: chroot, a breakout, pivot_root
//
// pivot_root(2) makes a mount the new "/". `rootfs` is already a mount point. Write pivotInto(rootfs):
// open "/" and `rootfs` as directories, fchdir into the new root, pivotRoot('.', '.') (the old root
// now sits on top of the new one), fchdir to the old root, make it a slave recursively (MS_SLAVE |
// MS_REC) so the unmount does not reach the host, umount2('.', MNT_DETACH), chdir('/'), close both fds.
import { MNT_DETACH, MS_REC, MS_SLAVE, O_CLOEXEC, O_DIRECTORY, O_RDONLY, chdir, close, fchdir, mount, open, pivotRoot, umount2 } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function pivotInto(rootfs: string): void {
  // TODO(lesson 5): pivot_root into `rootfs` and detach the old root.
  throw new NotWrittenYet(5, 'pivotInto', 'pivot-root.ts', "open the old root first: after pivotRoot('.', '.') the path \"/\" means the new one");
}
