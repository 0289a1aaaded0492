// Lesson 13: mountOverlay and applyWhiteout. The lesson warns: lowerdir lists the top layer first; workdir= is
// required, on upperdir's filesystem and not inside it (EINVAL, with the reason in the kernel log); a whiteout
// is a 0:0 character device named without '.wh.', not an empty file; '.wh..wh..opq' is the opaque xattr.
import type { LessonMutants } from './mutant.js';

export const lesson13: LessonMutants = {
  lesson: '13-images',
  mutants: [
    {
      name: 'lowerdir in the order given (bottom layer first): the older file wins',
      edits: [["const lower = [...lowerDirs].reverse().map(asOption).join(':');", "const lower = lowerDirs.map(asOption).join(':');"]],
      caught: /lowerdir=layers\/1:layers\/2:layers\/3[\s\S]*reads lowerdir from the top[\s\S]*merged\/motd reads "motd of layer 1/,
    },
    {
      name: 'a whiteout as an empty regular file',
      edits: [["  mknod(path.join(dir, name), S_IFCHR, makedev(0, 0));\n", "  writeFileSync(path.join(dir, name), '');\n"], ["import * as path from 'node:path';\n", "import { writeFileSync } from 'node:fs';\nimport * as path from 'node:path';\n"]],
      caught: /layers\/3\/gone\.txt is a regular file of 0 bytes[\s\S]*character device with device number 0:0[\s\S]*merged\/gone\.txt is a regular file of 0 bytes/,
    },
    {
      name: 'the whiteout device named with its marker (.wh.gone.txt)',
      edits: [['  mknod(path.join(dir, name), S_IFCHR, makedev(0, 0));\n', '  mknod(path.join(dir, marker), S_IFCHR, makedev(0, 0));\n']],
      caught: /layers\/3\/gone\.txt is nothing \(ENOENT\); layers\/3 holds: \.wh\.gone\.txt[\s\S]*without '\.wh\.'/,
    },
    {
      name: 'the opaque marker ignored (no trusted.overlay.opaque xattr)',
      edits: [["    lsetxattr(dir, 'trusted.overlay.opaque', 'y');\n", '']],
      caught: /layers\/2\/cache has no trusted\.overlay\.opaque[\s\S]*merged\/cache holds: new old[\s\S]*lsetxattr\(dir, 'trusted\.overlay\.opaque', 'y'\)/,
    },
    {
      name: 'workdir inside upperdir (EINVAL)',
      edits: [
        ['upperdir=${asOption(upperDir)},workdir=${asOption(workDir)}', 'upperdir=${asOption(upperDir)},workdir=${asOption(path.join(upperDir, "work"))}'],
        ["  mount('overlay', target, 'overlay', 0, data);\n", "  mkdirSync(path.join(upperDir, 'work'), { recursive: true });\n  mount('overlay', target, 'overlay', 0, data);\n"],
        ["import * as path from 'node:path';\n", "import { mkdirSync } from 'node:fs';\nimport * as path from 'node:path';\n"],
      ],
      caught: /EINVAL[\s\S]*must be separate subtrees[\s\S]*workdir may not be inside upperdir/,
    },
    {
      name: 'workdir on another filesystem (/dev/shm, a tmpfs) (EINVAL)',
      edits: [['workdir=${asOption(workDir)}', 'workdir=/dev/shm']],
      caught: /EINVAL[\s\S]*must reside under the same mount[\s\S]*same filesystem \(the same mount\) as upperdir/,
    },
    {
      name: 'workdir forgotten (EINVAL)',
      edits: [[',workdir=${asOption(workDir)}', '']],
      caught: /EINVAL[\s\S]*missing 'workdir'[\s\S]*upperdir needs a workdir/,
    },
  ],
};
