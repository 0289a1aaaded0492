// Lesson 7: joinCgroup. The lesson: open <dir>/cgroup.procs write-only, write the pid as text once, close.
// Writing to v1's `tasks` is left out: on a v1-only host it is equivalent for a process that execs at once.
import type { LessonMutants } from './mutant.js';

export const lesson07: LessonMutants = {
  lesson: '07-cgroups',
  mutants: [
    {
      name: "process.pid (the launcher's own) instead of the pid given",
      edits: [['write(fd, String(pid), procs);', 'write(fd, String(process.pid), procs);']],
      caught: /names the lesson cgroup[\s\S]*outside it in \d+ of \d+[\s\S]*not process\.pid/,
    },
    {
      name: "the parent directory's cgroup.procs",
      edits: [["const procs = path.join(dir, 'cgroup.procs');", "const procs = path.join(path.dirname(dir), 'cgroup.procs');"]],
      caught: /outside it in \d+ of \d+: \S+:\S*\/tslab-lab\b[\s\S]*not its parent/,
    },
    {
      name: 'opened and closed, never written',
      edits: [['    write(fd, String(pid), procs);\n', '']],
      caught: /names the lesson cgroup[\s\S]*outside it in \d+ of \d+/,
    },
    {
      name: 'opened O_RDONLY',
      edits: [
        ['O_CLOEXEC, O_WRONLY, close', 'O_CLOEXEC, O_RDONLY, close'],
        ['open(procs, O_WRONLY | O_CLOEXEC)', 'open(procs, O_RDONLY | O_CLOEXEC)'],
      ],
      caught: /write \S*cgroup\.procs: EBADF/,
    },
  ],
};
