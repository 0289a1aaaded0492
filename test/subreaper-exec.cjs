// `node test/subreaper-exec.cjs FILE ARGS...`: becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER, kept
// across execve) and replaces itself with FILE. test/run-suite.mjs starts each job's shell this way, so that
// the orphans of a job's processes (a container's init once `create` has exited, the process of an
// `exec --detach`) become the shell's children, and dash reaps whichever child ends while it waits for vitest.
//
// Why: the kernel ends a PID namespace only once every process in it has been reaped, and an orphan is reaped
// by the nearest subreaper above it, else by PID 1. PID 1 on these VMs (process_api) reaps about a second
// late, so a `delete --force` of a container holding an `exec --detach` process took ~1.7 s here instead of
// ~0.2 s (runc's as much as ours). Engines' shims (containerd-shim, conmon) and systemd reap at once.
'use strict';
const koffi = require('koffi');

const PR_SET_CHILD_SUBREAPER = 36;
const F_SETFD = 2;
const SIGPIPE = 13;
const SIGXFSZ = 25;

const libc = koffi.load('libc.so.6');
const prctl = libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)');
const signal = libc.func('void *signal(int signum, void *handler)');
const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
const execv = libc.func('int execv(const char *path, const char **argv)');

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node test/subreaper-exec.cjs FILE ARGS...');
  process.exit(2);
}
if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) {
  console.error('subreaper-exec: prctl(PR_SET_CHILD_SUBREAPER) failed');
  process.exit(1);
}
// What Node set up for itself and execve would otherwise pass on: ignored signals stay ignored across execve,
// and Node marks stdin, stdout and stderr close-on-exec at start-up.
for (const signum of [SIGPIPE, SIGXFSZ]) signal(signum, null);
for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 0);
execv(file, [file, ...args, null]);
console.error(`subreaper-exec: execv ${file} failed`);
process.exit(1);
