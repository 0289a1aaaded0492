// The second pass of `npm test`: what runs again on Node 24 LTS (the machine's Node 20 is end-of-life; learners
// mostly run 24), with the files of each project and why those. test/run-suite.mjs runs them beside the first
// pass; vitest, the tslab-runtime binary (through its #! line) and the PID-1 stage (process.execPath) all run
// on the Node 24 that package-lock.json pins.
//
// Node 24 differs from 20 where this project meets the system: libuv uses io_uring for file I/O, its tty and
// child-process code changed, and koffi loads a native addon built for each. So not the whole suite (the
// runtime's logic is the same JavaScript on both), but every place where Node itself is under the runtime:
export const NODE24_FILES = {
  // The runtime's CLI and PID-1 stage: create/start/kill/delete (lifecycle), the stage joining a running
  // container (exec), the console socket and the pty (terminal), the seccomp filter loaded before execve
  // (io_uring's calls are syscalls too), the CLI's parsing and output (cli).
  'lifecycle:tslab': [
    'test/lifecycle/lifecycle.test.ts',
    'test/lifecycle/exec.test.ts',
    'test/lifecycle/terminal.test.ts',
    'test/lifecycle/seccomp.test.ts',
    'test/lifecycle/cli.test.ts',
  ],
  // The notebook through a pty and the CLI: prompts and terminal handling differ between Node versions.
  lab: ['test/lab/notebook-pty.test.ts', 'test/lab/cli.test.ts'],
  // `tslab run` runs the runtime inside its own process (create, the stage, the init's end), on the learner's
  // Node, with and without a terminal.
  engine: ['test/engine/run.test.ts', 'test/engine/tty.test.ts'],
  // The syscall layer (koffi), netlink, the registry client: all of it, it is quick.
  kernel: undefined,
};
