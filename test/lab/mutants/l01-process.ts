// Lesson 1: exitStatus. The lesson: a death by signal is 128 + its number; a code is returned unchanged.
import type { LessonMutants } from './mutant.js';

export const lesson01: LessonMutants = {
  lesson: '01-process',
  shareContainer: true,
  mutants: [
    {
      name: "the signal's number without 128",
      edits: [['return 128 + (signal ? constants.signals[signal] : 0);', 'return signal ? constants.signals[signal] : 0;']],
      caught: /exitStatus\(null, "SIGKILL"\) = 9[\s\S]*128 \+ the signal's number/,
    },
    {
      name: 'if (code) instead of code !== null: exit code 0 taken for a signal',
      edits: [['if (code !== null) return code;', 'if (code) return code;']],
      caught: /exitStatus\(0, null\) = 128[\s\S]*when the code is not null, return it unchanged/,
    },
    {
      name: 'every signal taken for SIGKILL (128 + 9)',
      edits: [['return 128 + (signal ? constants.signals[signal] : 0);', 'return 128 + 9;']],
      caught: /exitStatus\(null, "SIGTERM"\) = 137[\s\S]*os\.constants\.signals\.SIGTERM is 15/,
    },
    {
      name: 'the signal ignored (code ?? 0)',
      edits: [['if (code !== null) return code;', 'return code ?? 0;']],
      caught: /exitStatus\(null, "SIGKILL"\) = 0/,
    },
  ],
};
