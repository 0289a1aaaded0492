// The capstone: a wrong piece of an earlier lesson, the whole runtime built from the sandbox, and the check must
// name that piece. Each takes the few lifecycle tests (files, and a vitest -t filter) that reveal its mistake.
import type { LessonMutants } from './mutant.js';

export const lesson10: LessonMutants = {
  lesson: '10-capstone',
  mutants: [
    {
      name: 'lesson 3 without the setns back (hooks fail)',
      file: 'pid-namespace.ts',
      edits: [['      setns(own, CLONE_NEWPID, OWN_PID_NS);\n', '']],
      capstoneFiles: 'test/lifecycle/hooks.test.ts',
      caught: /most likely: lesson 3's spawnInNewPidNamespace\(\)/,
    },
    {
      name: 'lesson 8 ignoring keep (every capability dropped)',
      file: 'capabilities.ts',
      edits: [['    if (keep.includes(cap)) continue;\n', '']],
      capstoneFiles: 'test/lifecycle/process.test.ts -t capabilities',
      caught: /most likely: lesson 8's dropBoundingSet\(\) \/ setNoNewPrivs\(\)/,
    },
    {
      name: 'lesson 7 opening cgroup.procs O_RDONLY (the first container fails)',
      file: 'cgroup-join.ts',
      edits: [
        ['O_CLOEXEC, O_WRONLY, close', 'O_CLOEXEC, O_RDONLY, close'],
        ['open(target, O_WRONLY | O_CLOEXEC)', 'open(target, O_RDONLY | O_CLOEXEC)'],
      ],
      capstoneFiles: 'test/lifecycle/lifecycle.test.ts -t start.makes.it.running',
      caught: /runs a first container[\s\S]*most likely: lesson 7's [^\n]*joinCgroup\(\) in sandbox\/steps\/cgroup-join.ts/,
    },
    {
      name: 'lesson 9 never unlinking exec.fifo (start leaves it created)',
      file: 'exec-fifo.ts',
      edits: [['  unlink(fifo);\n', '']],
      capstoneFiles: 'test/lifecycle/lifecycle.test.ts -t start.makes.it.running',
      caught: /most likely: lesson 9's releaseInit\(\)/,
    },
    {
      name: "lesson 1 without 128 + (a signal's number alone)",
      file: 'exit-status.ts',
      edits: [['return 128 + (signal ? constants.signals[signal] : 0);', 'return signal ? constants.signals[signal] : 0;']],
      capstoneFiles: 'test/lifecycle/lifecycle.test.ts -t killed.by.a.signal',
      caught: /most likely: lesson 1's exitStatus\(\)/,
    },
  ],
};
