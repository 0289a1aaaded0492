// Lesson 2: newUtsNamespace and setHostname. The lesson: unshare(CLONE_NEWUTS), then at most 64 bytes (count
// bytes), refuse a longer name, then sethostname(name). A missing unshare is stopped by the launcher before
// setHostname runs, so none of these renames the host (the suite checks the host after every run).
// Counting characters (name.length) is an equivalent mutant: any name it lets through above 64 bytes, the
// kernel refuses with the same EINVAL, so no check can tell it from the reference.
import type { LessonMutants } from './mutant.js';

export const lesson02: LessonMutants = {
  lesson: '02-uts',
  mutants: [
    {
      name: 'newUtsNamespace left empty (the unshare forgotten)',
      edits: [['  unshare(CLONE_NEWUTS);\n}', '}']],
      caught: /still in the host's uts namespace[\s\S]*newUtsNamespace\(\) must call unshare\(CLONE_NEWUTS\)/,
    },
    {
      name: 'unshare(CLONE_NEWNS) instead of CLONE_NEWUTS (the wrong namespace)',
      edits: [
        ['CLONE_NEWUTS, SyscallError', 'CLONE_NEWNS, SyscallError'],
        ['unshare(CLONE_NEWUTS);', 'unshare(CLONE_NEWNS);'],
      ],
      caught: /still in the host's uts namespace[\s\S]*newUtsNamespace\(\) must call unshare\(CLONE_NEWUTS\)/,
    },
    {
      name: 'the unshare moved into setHostname, after sethostname',
      edits: [
        ['  unshare(CLONE_NEWUTS);\n}', '}'],
        ['  sethostname(name);\n}', '  sethostname(name);\n  unshare(CLONE_NEWUTS);\n}'],
      ],
      caught: /still in the host's uts namespace[\s\S]*Stopping before setHostname/,
    },
    {
      name: '>= 64 instead of > 64 (a legal 64-byte name refused)',
      edits: [['if (length > HOST_NAME_MAX) {', 'if (length >= HOST_NAME_MAX) {']],
      caught: /exactly 64 bytes[\s\S]*it threw[\s\S]*\(> 64, not >= 64\)/,
    },
    {
      name: 'the length check only: sethostname never called',
      edits: [['  sethostname(name);\n}', '}']],
      caught: /its hostname is lesson-2[\s\S]*setHostname must call sethostname\(name\)/,
    },
    {
      name: 'a long name cut to 64 bytes instead of refused',
      edits: [
        [
          'if (length > HOST_NAME_MAX) {',
          'if (length > HOST_NAME_MAX) {\n    sethostname(Buffer.from(name).subarray(0, HOST_NAME_MAX).toString());\n    return;\n  }\n  if (length < 0) {',
        ],
      ],
      caught: /refuses a name of 65 bytes[\s\S]*no error; the hostname became[\s\S]*never cut to fit/,
    },
    {
      name: "a fixed name: sethostname('lesson-2')",
      edits: [['  sethostname(name);\n}', "  sethostname('lesson-2');\n}"]],
      caught: /exactly 64 bytes[\s\S]*the hostname became "lesson-2"[\s\S]*pass `name` itself to sethostname/,
    },
  ],
};
