// Lesson 12: idMapText and writeIdMaps. The lesson: a line is INSIDE OUTSIDE COUNT; uid_map, then "deny" to
// setgroups, then gid_map; one write per file, never twice; written from outside the namespace.
import type { LessonMutants } from './mutant.js';

export const lesson12: LessonMutants = {
  lesson: '12-userns',
  mutants: [
    {
      name: 'fields swapped: outside first',
      edits: [['`${r.inside} ${r.outside} ${r.count}\\n`', '`${r.outside} ${r.inside} ${r.count}\\n`']],
      caught: /no uid 0 and no gid 0[\s\S]*uid_map holds "100000 0 65536": the fields are swapped\. A line is INSIDE OUTSIDE COUNT/,
    },
    {
      name: 'gid_map written before setgroups "deny"',
      edits: [
        [
          "  writeOnce(`/proc/${pid}/setgroups`, 'deny');\n  writeOnce(`/proc/${pid}/gid_map`, idMapText(gids));\n",
          "  writeOnce(`/proc/${pid}/gid_map`, idMapText(gids));\n  writeOnce(`/proc/${pid}/setgroups`, 'deny');\n",
        ],
      ],
      caught: /setgroups: EPERM[\s\S]*"deny" must be written to setgroups BEFORE gid_map/,
    },
    {
      name: 'setgroups left alone (no "deny")',
      edits: [["  writeOnce(`/proc/${pid}/setgroups`, 'deny');\n", '']],
      caught: /setgroups: allow[\s\S]*must write "deny" to it, after uid_map and BEFORE gid_map/,
    },
    {
      name: 'count off by one: 65535 ids for 0..65535',
      edits: [['${r.count}\\n`', '${r.count - 1}\\n`']],
      caught: /uid_map: 0 100000 65535[\s\S]*COUNT is how many ids the line maps, 65536 for 0\.\.65535/,
    },
    {
      name: 'count 0',
      edits: [['${r.count}\\n`', '0\\n`']],
      caught: /uid_map: EINVAL[\s\S]*COUNT at least 1/,
    },
    {
      name: 'uid_map written twice (once per range, or again to be sure)',
      edits: [
        [
          '  writeOnce(`/proc/${pid}/uid_map`, idMapText(uids));\n',
          '  writeOnce(`/proc/${pid}/uid_map`, idMapText(uids));\n  writeOnce(`/proc/${pid}/uid_map`, idMapText(uids));\n',
        ],
      ],
      caught: /uid_map: EPERM[\s\S]*uid_map was already written: a map takes one write\(2\)/,
    },
    {
      name: 'gid_map forgotten',
      edits: [['  writeOnce(`/proc/${pid}/gid_map`, idMapText(gids));\n', '']],
      caught: /no gid 0[\s\S]*gid_map is empty: writeIdMaps\(\) must write it too/,
    },
    {
      name: 'maps written from inside the namespace (setns into it first)',
      edits: [
        [
          "import { O_CLOEXEC, O_WRONLY, close, open, write } from '../../linux/index.js';",
          "import { CLONE_NEWUSER, O_CLOEXEC, O_RDONLY, O_WRONLY, close, open, setns, write } from '../../linux/index.js';",
        ],
        [
          'void {\n  writeOnce(`/proc/${pid}/uid_map`',
          "void {\n  setns(open(`/proc/${pid}/ns/user`, O_RDONLY | O_CLOEXEC), CLONE_NEWUSER);\n  writeOnce(`/proc/${pid}/uid_map`",
        ],
      ],
      caught: /setns: EINVAL[\s\S]*a multithreaded process \(every Node process\) cannot join a user namespace/,
    },
  ],
};
