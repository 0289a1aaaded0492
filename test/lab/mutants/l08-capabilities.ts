// Lesson 8: dropBoundingSet and setNoNewPrivs. The lesson: every cap from 0 to lastCapability() inclusive not in
// keep; CAP_SETPCAP is in keep so it survives; then PR_SET_NO_NEW_PRIVS.
import type { LessonMutants } from './mutant.js';

export const lesson08: LessonMutants = {
  lesson: '08-capabilities',
  mutants: [
    {
      name: 'cap < last: the last capability (checkpoint_restore) kept',
      edits: [['for (let cap = 0; cap <= last; cap++) {', 'for (let cap = 0; cap < last; cap++) {']],
      caught: /1 too many \(checkpoint_restore\)[\s\S]*lastCapability\(\) \(inclusive\)/,
    },
    {
      name: 'keep ignored: every capability dropped',
      edits: [['    if (keep.includes(cap)) continue;\n', '']],
      caught: /CapBnd 0+; lacking[\s\S]*that keep does not include/,
    },
    {
      name: 'keep inverted: the kept capabilities dropped',
      edits: [['if (keep.includes(cap)) continue;', 'if (!keep.includes(cap)) continue;']],
      caught: /too many[\s\S]*lacking[\s\S]*that keep does not include/,
    },
    {
      name: 'setNoNewPrivs left empty',
      edits: [['  prctl(PR_SET_NO_NEW_PRIVS, 1);\n', '']],
      caught: /NoNewPrivs 0[\s\S]*setNoNewPrivs\(\) must call prctl\(PR_SET_NO_NEW_PRIVS, 1\)/,
    },
  ],
};
