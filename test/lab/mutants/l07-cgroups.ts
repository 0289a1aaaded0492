// Lesson 7: createCgroup (mkdir below the parent given), setLimits (the file names of the cgroup's version)
// and joinCgroup (open <dir>/cgroup.procs write-only, write the pid as text once, close).
// Writing to v1's `tasks` is left out: on a v1-only host it is equivalent for a process that execs at once.
import type { LessonMutants } from './mutant.js';

export const lesson07: LessonMutants = {
  lesson: '07-cgroups',
  mutants: [
    {
      name: "process.pid (the launcher's own) instead of the pid given",
      edits: [["writeControl(dir, 'cgroup.procs', String(pid));", "writeControl(dir, 'cgroup.procs', String(process.pid));"]],
      caught: /names the lesson cgroup[\s\S]*outside it in \d+ of \d+[\s\S]*not process\.pid/,
    },
    {
      name: "the parent directory's cgroup.procs",
      edits: [["writeControl(dir, 'cgroup.procs', String(pid));", "writeControl(path.dirname(dir), 'cgroup.procs', String(pid));"]],
      caught: /outside it in \d+ of \d+: \S+:\S*\/tslab-lab\b[\s\S]*not its parent/,
    },
    {
      name: 'cgroup created under the wrong parent (one level up)',
      edits: [['const dir = path.join(parent, name);', 'const dir = path.join(path.dirname(parent), name);']],
      caught: /createCgroup\([^)]*\) made \S+ \(the lab removed it\): the lesson cgroup is \S+, the name below the parent given/,
    },
    {
      name: "v2's file names on every cgroup (the version not looked at: memory.limit_in_bytes never written on v1)",
      edits: [["if (fs.existsSync(path.join(dir, 'cgroup.controllers'))) {", 'if (fs.existsSync(dir)) {']],
      caught: /the memory limit is 48 MiB[\s\S]*(v1 names the file memory\.limit_in_bytes|v2 names the file memory\.max)/,
    },
    {
      name: 'pids limit never written',
      edits: [["    writeIfPresent(dir, 'pids.max', String(limits.pids));\n    writeIfPresent(dir, 'cpu.max'", "    writeIfPresent(dir, 'cpu.max'"], ["    writeIfPresent(dir, 'pids.max', String(limits.pids));\n    writeIfPresent(dir, 'cpu.cfs_period_us'", "    writeIfPresent(dir, 'cpu.cfs_period_us'"]],
      caught: /pids\.max is 32[\s\S]*setLimits must write pids\.max/,
    },
  ],
};
