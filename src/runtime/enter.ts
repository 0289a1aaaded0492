// Runs a command inside a running lesson container, the way `runc exec` does: the same namespaces, the same
// root, the same cgroups, no more capabilities than the container has.
//   node enter.cjs PID [--cgroup DIR]... -- COMMAND [ARG...]
// The command is started stopped behind a one-line gate so that it is moved into the container's cgroups
// before it runs; this process itself stays out of them (it would otherwise be the OOM killer's first pick).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { CLOSE_RANGE_CLOEXEC, O_CLOEXEC, O_RDONLY, O_WRONLY, close, closeRange, fchdir, open } from '../linux/fs.js';
import { chroot } from '../linux/mount.js';
import {
  CLONE_FS,
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUTS,
  setns,
  unshare,
} from '../linux/namespaces.js';
import { PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, prctl } from '../linux/process.js';
import { exitStatus } from './steps/exit-status.js';

const NAMESPACES: Array<[string, number]> = [
  ['cgroup', CLONE_NEWCGROUP],
  ['ipc', CLONE_NEWIPC],
  ['uts', CLONE_NEWUTS],
  ['net', CLONE_NEWNET],
  ['pid', CLONE_NEWPID],
];

const GATE = 'read -r _ <&3; exec 3<&-; exec "$@"';

function statusField(pid: number, field: string): string {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`/proc/${pid}/status has no ${field}`);
  return line.slice(field.length + 1).trim();
}

function sameNamespace(pid: number, name: string): boolean {
  return fs.readlinkSync(`/proc/${pid}/ns/${name}`) === fs.readlinkSync(`/proc/self/ns/${name}`);
}

function parseArgs(argv: string[]): { pid: number; cgroupDirs: string[]; command: string[] } {
  const pid = Number(argv[0]);
  const cgroupDirs: string[] = [];
  let i = 1;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--cgroup') cgroupDirs.push(argv[++i]);
    else throw new Error(`enter: unknown argument ${argv[i]}`);
  }
  const command = argv.slice(i + 1);
  if (!Number.isInteger(pid) || pid <= 0 || !command.length) throw new Error('usage: enter PID [--cgroup DIR]... -- COMMAND...');
  return { pid, cgroupDirs, command };
}

function enter(pid: number): void {
  // Read from the host's /proc: the container's may be anything (a tmpfs, say).
  const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const bounding = BigInt(`0x${statusField(pid, 'CapBnd')}`);
  const noNewPrivs = statusField(pid, 'NoNewPrivs') === '1';
  const rootFd = open(`/proc/${pid}/root`, O_RDONLY | O_CLOEXEC);
  for (const [name, flag] of NAMESPACES) {
    if (sameNamespace(pid, name)) continue;
    const fd = open(`/proc/${pid}/ns/${name}`, O_RDONLY | O_CLOEXEC);
    setns(fd, flag, `/proc/${pid}/ns/${name}`);
    close(fd);
  }
  if (!sameNamespace(pid, 'mnt')) {
    const fd = open(`/proc/${pid}/ns/mnt`, O_RDONLY | O_CLOEXEC);
    // A multithreaded process must stop sharing its fs state before it may change mount namespace.
    unshare(CLONE_FS);
    setns(fd, CLONE_NEWNS, `/proc/${pid}/ns/mnt`);
    close(fd);
  }
  // The container's root may be a chroot inside its mount namespace: take exactly its root.
  fchdir(rootFd);
  chroot('.');
  close(rootFd);
  for (let cap = 0; cap <= lastCap; cap++) {
    if (!((bounding >> BigInt(cap)) & 1n)) prctl(PR_CAPBSET_DROP, cap);
  }
  if (noNewPrivs) prctl(PR_SET_NO_NEW_PRIVS, 1);
}

function main(): void {
  // Whatever our caller left open (a shell's `exec 200</`, say) would be inherited by the command and reach
  // the host from inside the container: only stdio and the gate go in.
  closeRange(3, 0xffffffff, CLOSE_RANGE_CLOEXEC);
  const { pid, cgroupDirs, command } = parseArgs(process.argv.slice(2));
  // Opened while the host's /sys/fs/cgroup is still in view.
  const cgroupProcs = cgroupDirs.map((dir) => open(`${dir}/cgroup.procs`, O_WRONLY | O_CLOEXEC));
  enter(pid);
  const child = spawn('/bin/sh', ['-c', GATE, 'tslab-enter', ...command], {
    cwd: '/',
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TERM: process.env.TERM ?? 'xterm' },
  });
  for (const fd of cgroupProcs) {
    fs.writeSync(fd, String(child.pid));
    close(fd);
  }
  (child.stdio[3] as NodeJS.WritableStream).end('go\n');
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(exitStatus(code, signal)));
}

try {
  main();
} catch (err) {
  process.stderr.write(`tslab enter: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(125);
}
