// The second pass of `npm test`: what runs again on Node 24 LTS (the machine's Node 20 is end-of-life; learners
// mostly run 24): for each project its files (`only`) or all but some (`except`), and why. test/run-suite.mjs
// runs them beside the first pass; vitest, the tslab-runtime binary (through its #! line) and the PID-1 stage
// (process.execPath) all run on the Node 24 that package-lock.json pins.
//
// Node 24 differs from 20 where this project meets the system: libuv uses io_uring for file I/O, its tty and
// child-process code changed, and koffi loads a native addon built for each. So not the whole suite (the
// runtime's logic is the same JavaScript on both), but every place where Node itself is under the runtime:
export const NODE24_FILES = {
  // The runtime's CLI and PID-1 stage: the stage joining a running container (exec: each of its tests creates,
  // starts and deletes a container too, so create/start/kill/delete run here without lifecycle.test.ts, whose
  // state machine is the same JavaScript on both), the console socket and the pty (terminal), the seccomp filter
  // loaded before execve (io_uring's calls are syscalls too), the CLI's parsing and output (cli). Not
  // exec-process.test.ts: what flags and process.json make of the process, and exec's refusals, are the same
  // JavaScript on both (and a Node start costs ~40 ms more CPU on 24 than on 20 here).
  'lifecycle:tslab': {
    only: ['test/lifecycle/exec.test.ts', 'test/lifecycle/terminal.test.ts', 'test/lifecycle/seccomp.test.ts', 'test/lifecycle/cli.test.ts'],
  },
  // The notebook through a pty: prompts and terminal handling differ between Node versions. (The lab's CLI
  // tests run its commands without a terminal, the same JavaScript on both: Node 20 only.)
  lab: { only: ['test/lab/notebook-pty.test.ts'] },
  // `tslab run` runs the runtime inside its own process (create, the stage, the init's end), on the learner's
  // Node, with and without a terminal.
  engine: { only: ['test/engine/run.test.ts', 'test/engine/tty.test.ts'] },
  // The syscall layer (koffi), netlink, the registry client (Node's HTTP), ptys: all of it but the IPAM's 50
  // concurrent allocators, 50 Node processes (10-17 s) running JavaScript that is the same on both, over a lock
  // file the syscall tests already reach.
  kernel: { except: ['test/kernel/net-ipam.test.ts'] },
};
