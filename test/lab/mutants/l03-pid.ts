// Lesson 3: spawnInNewPidNamespace. The lesson: keep a handle on your own PID namespace, unshare(CLONE_NEWPID),
// spawnChild() (PID 1), and setns back in a finally.
import type { LessonMutants } from './mutant.js';

export const lesson03: LessonMutants = {
  lesson: '03-pid',
  mutants: [
    {
      name: 'no setns back to the original PID namespace',
      edits: [['      setns(own, CLONE_NEWPID, OWN_PID_NS);\n', '']],
      caught: /createRuntime hook[\s\S]*not the host's[\s\S]*setns\(own, CLONE_NEWPID\) back/,
    },
    {
      name: 'spawnChild() before unshare(CLONE_NEWPID)',
      edits: [['    unshare(CLONE_NEWPID);\n    try {\n      return spawnChild();', '    const child = spawnChild();\n    unshare(CLONE_NEWPID);\n    try {\n      return child;']],
      caught: /PID 1 in its namespace[\s\S]*NSpid: \d+\n[\s\S]*unshare\(CLONE_NEWPID\), then spawnChild\(\)/,
    },
    {
      name: 'setns back before spawnChild()',
      edits: [['    try {\n      return spawnChild();\n    } finally {\n      setns(own, CLONE_NEWPID, OWN_PID_NS);\n    }', '    setns(own, CLONE_NEWPID, OWN_PID_NS);\n    return spawnChild();']],
      caught: /PID 1 in its namespace[\s\S]*NSpid: \d+\n[\s\S]*only then setns back/,
    },
    {
      name: 'the wrong flag: unshare(CLONE_NEWUTS)',
      edits: [
        ['import { CLONE_NEWPID,', 'import { CLONE_NEWUTS, CLONE_NEWPID,'],
        ['    unshare(CLONE_NEWPID);', '    unshare(CLONE_NEWUTS);'],
      ],
      caught: /its PID namespace differs from the host[\s\S]*unshare\(CLONE_NEWPID\) in spawnInNewPidNamespace/,
    },
  ],
};
