// Lesson 5: pivotInto. The lesson: open both roots, fchdir(newRoot), pivotRoot('.', '.'), fchdir(oldRoot),
// MS_SLAVE | MS_REC, umount2('.', MNT_DETACH), chdir('/'). Leaving out MS_SLAVE is an equivalent mutant in
// the lab: the reference makeMountsPrivate of lesson 4 has made every mount private before pivotInto runs. So is
// leaving out fchdir(oldRoot): after pivot_root('.', '.') the kernel leaves the cwd on the old root (runc does the
// fchdir only because no kernel promises that).
import type { LessonMutants } from './mutant.js';

export const lesson05: LessonMutants = {
  lesson: '05-rootfs',
  mutants: [
    {
      name: 'chroot instead of pivot_root',
      edits: [
        ['chdir, close,', 'chdir, chroot, close,'],
        ["    fchdir(newRoot);\n    pivotRoot('.', '.');", "    fchdir(newRoot);\n    chroot('.');\n    return;\n    pivotRoot('.', '.');"],
      ],
      caught: /it ESCAPED[\s\S]*after pivot_root the old root must be unmounted/,
    },
    {
      name: 'the old root never unmounted (no umount2)',
      edits: [["    umount2('.', MNT_DETACH);\n", '']],
      caught: /the host's root \(\S+ \/\) is still mounted in it[\s\S]*umount2\("\.", MNT_DETACH\)/,
    },
    {
      name: "no chdir('/') at the end",
      edits: [["    chdir('/');\n", '']],
      caught: /its cwd is the host's root directory[\s\S]*end pivotInto with chdir\("\/"\)/,
    },
  ],
};
