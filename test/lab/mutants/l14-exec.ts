// Lesson 14: joinNamespaces, spawnInPidNamespace and joinCgroups. The lesson: every fd opened before the
// first setns and mnt joined last; unshare(CLONE_FS) before the mount namespace; each setns with its own
// CLONE_NEW* flag; no namespace forgotten; the child spawned AFTER setns(CLONE_NEWPID); the pid written into
// every cgroup.procs, the pid given and not the caller's own.
import type { LessonMutants } from './mutant.js';

const OPEN_ALL_THEN_JOIN = `    for (const [type, nstype] of JOINED) {
      if (!isOurs(pid, type)) opened.push({ type, nstype, fd: open(\`/proc/\${pid}/ns/\${type}\`, O_RDONLY | O_CLOEXEC) });
    }
    for (const { type, nstype, fd } of opened) {
      if (nstype === CLONE_NEWNS) unshare(CLONE_FS);
      setns(fd, nstype, \`/proc/\${pid}/ns/\${type}\`);
    }`;

export const lesson14: LessonMutants = {
  lesson: '14-exec',
  mutants: [
    {
      name: 'mnt joined first, each fd opened after the previous setns',
      edits: [
        ["  ['mnt', CLONE_NEWNS],\n];", '];'],
        ["  ['cgroup', CLONE_NEWCGROUP],", "  ['mnt', CLONE_NEWNS],\n  ['cgroup', CLONE_NEWCGROUP],"],
        [
          OPEN_ALL_THEN_JOIN,
          `    for (const [type, nstype] of JOINED) {
      if (isOurs(pid, type)) continue;
      const fd = open(\`/proc/\${pid}/ns/\${type}\`, O_RDONLY | O_CLOEXEC);
      opened.push({ type, nstype, fd });
      if (nstype === CLONE_NEWNS) unshare(CLONE_FS);
      setns(fd, nstype, \`/proc/\${pid}/ns/\${type}\`);
    }`,
        ],
      ],
      caught: /exec exit status[\s\S]*\/proc\/\d+\/ns\/[\s\S]*open every \/proc\/<pid>\/ns\/<type> BEFORE the first setns/,
    },
    {
      name: 'no unshare(CLONE_FS) before setns into the mount namespace',
      edits: [['      if (nstype === CLONE_NEWNS) unshare(CLONE_FS);\n', '']],
      caught: /setns \/proc\/\d+\/ns\/mnt: EINVAL[\s\S]*unshare\(CLONE_FS\)/,
    },
    {
      name: 'setns with the wrong nstype: CLONE_NEWIPC for uts',
      edits: [["['uts', CLONE_NEWUTS],", "['uts', CLONE_NEWIPC],"]],
      caught: /setns \/proc\/\d+\/ns\/uts: EINVAL[\s\S]*the nstype must be the CLONE_NEW\* flag/,
    },
    {
      name: 'the ipc namespace forgotten',
      edits: [["  ['ipc', CLONE_NEWIPC],\n", '']],
      caught: /container's ipc namespace\nsaw: ipc:\[\d+\] \(the host's\)[\s\S]*setns\(fd, CLONE_NEWIPC\)/,
    },
    {
      name: 'the PID namespace joined only after the spawn',
      edits: [
        [
          `    setns(theirs, CLONE_NEWPID, \`/proc/\${pid}/ns/pid\`);
    try {
      return spawnChild();
    } finally {`,
          `    const child = spawnChild();
    setns(theirs, CLONE_NEWPID, \`/proc/\${pid}/ns/pid\`);
    try {
      return child;
    } finally {`,
        ],
      ],
      caught: /not born in the container's PID namespace[\s\S]*setns\(fd, CLONE_NEWPID\) BEFORE it calls spawnChild\(\)/,
    },
    {
      name: "its own pid written to cgroup.procs (process.pid), not the one it is given",
      edits: [['write(fd, String(pid), procs);', 'write(fd, String(process.pid), procs);']],
      caught: /in the container's cgroups[\s\S]*hierarchies differ[\s\S]*cgroup.procs of EVERY directory/,
    },
    {
      name: 'only the first cgroup hierarchy joined',
      edits: [['  for (const dir of dirs) {\n', '  for (const dir of dirs.slice(0, 1)) {\n']],
      caught: /in the container's cgroups[\s\S]*hierarchies differ[\s\S]*cgroup.procs of EVERY directory/,
    },
  ],
};
