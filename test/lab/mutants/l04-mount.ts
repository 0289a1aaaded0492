// Lesson 4: newMountNamespace, makeMountsPrivate and mountProc. The lesson: unshare(CLONE_NEWNS), MS_REC |
// MS_PRIVATE on '/', then proc mounted MS_NOSUID | MS_NODEV | MS_NOEXEC. A missing unshare is stopped by the
// launcher before makeMountsPrivate runs, so none of these changes the host's mounts. The check makes a
// shared mount of its own, so MS_REC matters on any host.
import type { LessonMutants } from './mutant.js';

export const lesson04: LessonMutants = {
  lesson: '04-mount',
  mutants: [
    {
      name: 'newMountNamespace left empty (the unshare forgotten)',
      edits: [['  unshare(CLONE_NEWNS);\n}', '}']],
      caught: /still in the host's mnt namespace[\s\S]*newMountNamespace\(\) must call unshare\(CLONE_NEWNS\)/,
    },
    {
      name: 'unshare(CLONE_NEWNS) after makeMountsPrivate (moved there, after the remount)',
      edits: [
        ['  unshare(CLONE_NEWNS);\n}', '}'],
        ["  mount(null, '/', null, MS_REC | MS_PRIVATE);\n", "  mount(null, '/', null, MS_REC | MS_PRIVATE);\n  unshare(CLONE_NEWNS);\n"],
      ],
      caught: /still in the host's mnt namespace[\s\S]*Stopping before makeMountsPrivate, which would have changed the host/,
    },
    {
      name: 'unshare(CLONE_NEWUTS) instead of CLONE_NEWNS (the wrong namespace)',
      edits: [
        ['import { CLONE_NEWNS,', 'import { CLONE_NEWUTS,'],
        ['unshare(CLONE_NEWNS);', 'unshare(CLONE_NEWUTS);'],
      ],
      caught: /still in the host's mnt namespace[\s\S]*newMountNamespace\(\) must call unshare\(CLONE_NEWNS\)/,
    },
    {
      name: 'MS_PRIVATE without MS_REC',
      edits: [["mount(null, '/', null, MS_REC | MS_PRIVATE);", "mount(null, '/', null, MS_PRIVATE);"]],
      // Caught by the enable step when the host has a shared submount, else by the check's own shared mount.
      caught: /still propagate[\s\S]*(MS_REC \| MS_PRIVATE|without MS_REC only '\/' itself changes)/,
    },
    {
      name: 'MS_SLAVE instead of MS_PRIVATE',
      edits: [
        ['MS_PRIVATE, MS_REC, mount, unshare }', 'MS_PRIVATE, MS_REC, MS_SLAVE, mount, unshare }'],
        ["mount(null, '/', null, MS_REC | MS_PRIVATE);", "mount(null, '/', null, MS_REC | MS_SLAVE);"],
      ],
      caught: /master:\d+[\s\S]*master:N is MS_SLAVE/,
    },
    {
      name: 'makeMountsPrivate left empty',
      edits: [["  mount(null, '/', null, MS_REC | MS_PRIVATE);\n", '']],
      caught: /still propagate[\s\S]*MS_REC \| MS_PRIVATE/,
    },
    {
      name: 'proc mounted without MS_NOSUID | MS_NODEV | MS_NOEXEC',
      edits: [["mount('proc', target, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC);", "mount('proc', target, 'proc', 0);"]],
      caught: /nosuid,nodev,noexec[\s\S]*nosuid, nodev, noexec missing/,
    },
    {
      name: 'mountProc left empty',
      edits: [["  mount('proc', target, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC);\n", '']],
      caught: /it still sees the host's \/proc: mountProc\(target\) must mount/,
    },
  ],
};
