// The last steps before execve(): who the process is (ids, capabilities, limits) and what it inherits
// (signal dispositions, file descriptors). Runs on the stage's main thread, which is the one that execs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { capset, lastCapability, setAmbient } from '../../linux/capabilities.js';
import { SyscallError } from '../../linux/error.js';
import { CLOSE_RANGE_CLOEXEC, FD_CLOEXEC, O_CLOEXEC, O_DIRECTORY, close, closeRange, fchdir, fcntl, open, setCloexec, umask } from '../../linux/fs.js';
import { PR_CAPBSET_READ, PR_SET_KEEPCAPS, prctl, prlimit, resetSignals, setgroups, setresgid, setresuid } from '../../linux/process.js';
import { O_PATH, setDumpable } from '../../linux/resolve.js';
import { sleepSync } from '../../linux/proc.js';
import { capabilityName, capabilityNumber, capsToMask } from './capability-names.js';
import { rlimitNumber } from './rlimits.js';
import type { Process } from '../spec/types.js';
import { dropBoundingSet, setNoNewPrivs } from '../steps/capabilities.js';
import { mkdirAllInRoot } from '../../fs/in-root.js';
import { UnsafeFileError, readFileInRoot } from '../../fs/regular-file.js';

const RLIMIT_NOFILE = 7;
const F_GETFD = 1;
// An /etc/passwd larger than this is not a passwd file (runc reads it whole; /dev/zero never ends).
const PASSWD_MAX_BYTES = 4 << 20;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function isExecutableFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Finds args[0] as the container will see it (after the switch of root), like runc's LookPath. */
export function findExecutable(proc: Process): string {
  const name = proc.args[0];
  if (name.includes('/')) {
    const file = path.resolve(proc.cwd, name);
    // runc's wording: engines turn "no such file or directory" into 127 and "permission denied" into 126.
    if (!fs.existsSync(file)) throw new Error(`exec: "${name}": stat ${name}: no such file or directory`);
    if (!isExecutableFile(file)) throw new Error(`exec: "${name}": permission denied (not an executable file)`);
    return file;
  }
  const pathVar = proc.env?.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    const file = path.join(dir || '.', name);
    if (isExecutableFile(file)) return file;
  }
  throw new Error(`exec: "${name}": executable file not found in $PATH`);
}

/**
 * Closes what the stage inherited by accident: any fd from 3 up that is not close-on-exec and not in
 * `keep` came from whoever started the runtime (`exec 200</` in a shell), since Node and libuv open
 * everything close-on-exec. Such an fd may be a host directory: /proc/self/fd/200 would lead out.
 */
export function closeInheritedFds(keep: ReadonlySet<number>): void {
  for (const fd of openFds()) {
    if (fd < 3 || keep.has(fd)) continue;
    let flags: number;
    try {
      flags = fcntl(fd, F_GETFD);
    } catch {
      continue; // the directory listing's own fd, closed by now
    }
    if (!(flags & FD_CLOEXEC)) close(fd);
  }
}

function isCloexecCharDevice(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isCharacterDevice() && (fcntl(fd, F_GETFD) & FD_CLOEXEC) !== 0;
  } catch {
    return false;
  }
}

function openFds(): number[] {
  return fs.readdirSync('/proc/self/fd').map(Number);
}

/**
 * The check before the process's cwd is entered: apart from stdio and `allowed` (the preserved fds the
 * caller asked for, the channel, the terminal socket, the exec FIFO), the stage holds nothing that names a
 * file by path, so no /proc/self/fd/N can lead to the host. Node's own fds are pipes, sockets and
 * anonymous inodes. Another thread may hold a file open for an instant (glibc's malloc reads
 * /proc/sys/vm/overcommit_memory when a thread's heap shrinks), so an fd is refused only if it still names
 * the same file a moment later.
 */
export function assertNoHostFds(allowed: ReadonlySet<number>): void {
  const suspects = filesHeldByPath(allowed);
  if (suspects.size === 0) return;
  sleepSync(TRANSIENT_FD_GRACE_MS);
  for (const [fd, target] of filesHeldByPath(allowed)) {
    if (suspects.get(fd) === target) {
      throw new Error(`the container init still holds fd ${fd} on ${target}, which the process could reach through /proc/self/fd/${fd}; refusing to go on`);
    }
  }
}

const TRANSIENT_FD_GRACE_MS = 50;

function filesHeldByPath(allowed: ReadonlySet<number>): Map<number, string> {
  const held = new Map<number, string>();
  for (const fd of openFds()) {
    if (fd < 3 || allowed.has(fd)) continue;
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory listing's own fd, closed by now
    }
    // Node 24 keeps character devices of its own open, close-on-exec (/dev/null, and a reopened tty for its
    // stdio): neither a directory to climb out of nor a file to read, and gone at execve.
    if (target.startsWith('/') && !isCloexecCharDevice(fd)) held.set(fd, target);
  }
  return held;
}

/**
 * Enters the working directory, creating what the image lacks as runc does. The path is resolved by the
 * kernel inside the container's root and never through a /proc magic link: a cwd of /proc/self/fd/N would
 * otherwise be whatever file the init holds as fd N, maybe a directory of the host.
 */
export function enterCwd(proc: Process): void {
  const root = open('/', O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    let dir: number;
    try {
      dir = mkdirAllInRoot(root, proc.cwd, 0o755);
    } catch (err) {
      throw new Error(`process.cwd ${JSON.stringify(proc.cwd)} cannot be the working directory: ${cwdProblem(err)}`);
    }
    try {
      fchdir(dir);
    } finally {
      close(dir);
    }
  } finally {
    close(root);
  }
}

function cwdProblem(err: unknown): string {
  if (!(err instanceof SyscallError)) return err instanceof Error ? err.message : String(err);
  const where = err.path ? ` (at ${err.path})` : '';
  switch (err.code) {
    case 'ENOTDIR':
      return `it is not a directory${where}`;
    case 'ELOOP':
      return `it goes through a /proc magic link such as /proc/self/fd/N, which could lead out of the container, or a symbolic link loop${where}`;
    case 'EEXIST':
      return `a symbolic link to nothing is in the way${where}`;
    default:
      return err.message;
  }
}

/**
 * The configured environment, plus HOME from the container's /etc/passwd when it has none (as runc). The
 * file is read inside the root, and only if it is a regular file of sane size: an image may make it a
 * FIFO (a read would block for ever), /dev/zero, or a link through /proc to something of the host. Any
 * such file holds no entry, so HOME is "/" (as runc's when maskedPaths puts /dev/null over /etc/passwd).
 */
export function environmentWithHome(proc: Process): string[] {
  const env = proc.env ?? [];
  if (env.some((entry) => entry.startsWith('HOME='))) return env;
  let home = '/';
  const passwd = readPasswd();
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 6 && Number(fields[2]) === proc.user.uid && fields[2] !== '') {
      home = fields[5] || '/';
      break;
    }
  }
  return [...env, `HOME=${home}`];
}

/**
 * The container's /etc/passwd, or '' when there is none to read. As runc, a file that cannot be opened
 * (missing, a link through /proc or a loop, not readable) holds no entry; so does one that is not a regular
 * file (opened non-blocking, never read). Only a read that fails or a file over the cap is an error.
 */
function readPasswd(): string {
  const root = open('/', O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    return readFileInRoot(root, '/etc/passwd', PASSWD_MAX_BYTES);
  } catch (err) {
    if (err instanceof UnsafeFileError && err.reason !== 'too-big') return '';
    if (err instanceof SyscallError && err.syscall === 'openat2') return '';
    throw new Error(`reading the container's /etc/passwd to set HOME: ${(err as Error).message} (set HOME in process.env to skip it)`);
  } finally {
    close(root);
  }
}

export function setOomScoreAdj(value: number): void {
  try {
    fs.writeFileSync('/proc/self/oom_score_adj', String(value));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(
      `cannot set process.oomScoreAdj to ${value}: writing /proc/self/oom_score_adj failed with ${code}` +
        (code === 'EACCES' ? ' — lowering it needs CAP_SYS_RESOURCE, which this machine\'s capability bounding set lacks' : ''),
    );
  }
}

export function applyRlimits(proc: Process): void {
  const rlimits = proc.rlimits ?? [];
  for (const limit of rlimits) prlimit(0, rlimitNumber(limit.type), limit.soft, limit.hard, limit.type);
  // Node raised its own soft NOFILE limit at start-up; a container gets the conventional 1024 unless asked.
  if (!rlimits.some((l) => l.type === 'RLIMIT_NOFILE')) {
    const hard = /Max open files\s+\d+\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1];
    const hardValue = hard === undefined || hard === 'unlimited' ? -1 : Number(hard);
    prlimit(0, RLIMIT_NOFILE, hardValue === -1 ? 1024 : Math.min(1024, hardValue), hardValue, 'RLIMIT_NOFILE');
  }
}

function setgroupsDenied(): boolean {
  try {
    return fs.readFileSync('/proc/thread-self/setgroups', 'utf8').trim() === 'deny';
  } catch {
    return false;
  }
}

/**
 * User, groups and capabilities, in the only order that works: bounding set first, ids, then capset.
 * `lastCap` is read by the caller before the switch of root: the container's /proc may not tell the truth.
 */
export function applyIdentity(proc: Process, lastCap = lastCapability()): void {
  const caps = proc.capabilities;
  if (caps) {
    const keep = (caps.bounding ?? []).map(capabilityNumber);
    dropBoundingSet(keep);
    checkBoundingSet(keep, lastCap);
  }
  prctl(PR_SET_KEEPCAPS, 1);
  // A user namespace whose setgroups says "deny" (its gid_map written without CAP_SETGID over its parent, or by
  // choice) refuses setgroups(2) even to clear the list: keep the groups then, as runc does.
  const gids = proc.user.additionalGids ?? [];
  if (gids.length || !setgroupsDenied()) setgroups(gids);
  setresgid(proc.user.gid);
  setresuid(proc.user.uid);
  prctl(PR_SET_KEEPCAPS, 0);
  // A change of ids resets the dumpable flag to fs.suid_dumpable: make sure the init stays unreachable.
  setDumpable(false);
  if (caps) {
    capset({
      effective: capsToMask(caps.effective ?? []),
      permitted: capsToMask(caps.permitted ?? []),
      inheritable: capsToMask(caps.inheritable ?? []),
    });
    // The kernel raises an ambient capability only if it is also permitted and inheritable; like runc,
    // the others are left out rather than failing (runc's own default spec lists ambient without inheritable).
    const raisable = capsToMask(caps.permitted ?? []) & capsToMask(caps.inheritable ?? []);
    setAmbient(capsToMask(caps.ambient ?? []) & raisable, lastCap);
  }
  if (proc.noNewPrivileges) setNoNewPrivs();
}

/**
 * dropBoundingSet reads the last capability from the container's /proc, which the config can mask (a
 * masked cap_last_cap reads as 0 and would leave the whole set): ask the kernel what is really left.
 */
function checkBoundingSet(keep: readonly number[], lastCap: number): void {
  for (let cap = 0; cap <= lastCap; cap++) {
    if (!keep.includes(cap) && prctl(PR_CAPBSET_READ, cap) === 1) {
      throw new Error(`the capability bounding set still holds ${capabilityName(cap)} after it was dropped (is /proc/sys/kernel/cap_last_cap masked in the container?)`);
    }
  }
}

/** Leaves the exec'd program default signal handling and only the fds it should have. */
export function prepareInheritance(proc: Process, preserveFds: number): void {
  umask(proc.user.umask ?? 0o022);
  resetSignals();
  for (const fd of [0, 1, 2]) {
    try {
      setCloexec(fd, false);
    } catch {
      // An fd the caller did not open stays closed.
    }
  }
  closeRange(3 + preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
  for (let fd = 3; fd < 3 + preserveFds; fd++) setCloexec(fd, false);
}
