// Lesson 5: pivot_root(2) makes the rootfs mount the process's "/", and puts the old root somewhere.
// pivot_root(".", ".") stacks the old root on top of the new one at "/"; detaching it (after making it
// a slave, so the unmount does not travel back to the host) leaves the container only its own files.
import { MNT_DETACH, MS_REC, MS_SLAVE, O_CLOEXEC, O_DIRECTORY, O_RDONLY, chdir, close, fchdir, mount, open, pivotRoot, umount2 } from '../../linux/index.js';

/** `rootfs` must already be a mount point (bind-mount it onto itself first). */
export function pivotInto(rootfs: string): void {
  const oldRoot = open('/', O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  const newRoot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  try {
    fchdir(newRoot);
    pivotRoot('.', '.');
    // The old root now sits on top of the new one at "/": detach it without telling the host.
    fchdir(oldRoot);
    mount(null, '.', null, MS_SLAVE | MS_REC);
    umount2('.', MNT_DETACH);
    chdir('/');
  } finally {
    close(oldRoot);
    close(newRoot);
  }
}
