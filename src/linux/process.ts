import { check, fn, koffi } from './libc.js';

export const PR_SET_KEEPCAPS = 8;
export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_CAPBSET_READ = 23;
export const PR_CAPBSET_DROP = 24;
export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_CAP_AMBIENT = 47;
export const PR_CAP_AMBIENT_RAISE = 2;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

// Raw x86-64 syscall numbers: glibc's wrappers of these broadcast the change to every thread of the
// process, which is wrong (and risky) inside Node; the PID-1 stage changes only the thread that execs.
const SYS_SETGROUPS = 116;
const SYS_SETRESUID = 117;
const SYS_SETRESGID = 119;

export function prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
  const call = fn('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
  return check(call(option, arg2, arg3, arg4, arg5), 'prctl');
}

export function sethostname(name: string): void {
  const bytes = Buffer.from(name);
  check(fn('int sethostname(const char *name, size_t len)')(name, bytes.length), 'sethostname', name);
}

export function setdomainname(name: string): void {
  const bytes = Buffer.from(name);
  check(fn('int setdomainname(const char *name, size_t len)')(name, bytes.length), 'setdomainname', name);
}

export function kill(pid: number, signal: number): void {
  check(fn('int kill(int pid, int sig)')(pid, signal), 'kill', String(pid));
}

/** Replaces the process image; returns only by throwing. */
export function execve(path: string, argv: string[], envp: string[]): never {
  const call = fn('int execve(const char *path, const char **argv, const char **envp)');
  call(path, [...argv, null], [...envp, null]);
  check(-1, 'execve', path);
  throw new Error('unreachable');
}

const RLIM_INFINITY = 0xffffffffffffffffn;
koffi.struct('tslab_rlimit', { cur: 'uint64_t', max: 'uint64_t' });

function toRlim(value: number | bigint): bigint {
  const big = BigInt(value);
  return big < 0n || big >= 0x7fffffffffffffffn ? RLIM_INFINITY : big;
}

/** Sets a resource limit of `pid` (0 = the calling process). */
export function prlimit(pid: number, resource: number, soft: number | bigint, hard: number | bigint, label?: string): void {
  const call = fn('int prlimit(int pid, int resource, const tslab_rlimit *new_limit, _Out_ tslab_rlimit *old)');
  check(call(pid, resource, { cur: toRlim(soft), max: toRlim(hard) }, null), 'setrlimit', label);
}

export function setgroups(gids: number[]): void {
  const list = new Uint32Array(gids);
  const call = fn('long syscall(long nr, long size, const uint32_t *list)');
  check(call(SYS_SETGROUPS, gids.length, gids.length ? list : null), 'setgroups');
}

export function setresgid(gid: number): void {
  check(fn('long syscall(long nr, long r, long e, long s)')(SYS_SETRESGID, gid, gid, gid), 'setresgid');
}

export function setresuid(uid: number): void {
  check(fn('long syscall(long nr, long r, long e, long s)')(SYS_SETRESUID, uid, uid, uid), 'setresuid');
}

const SIG_SETMASK = 2;

/** Resets every catchable signal to its default action and empties the calling thread's mask. */
export function resetSignals(): void {
  const signal = fn('void *signal(int signum, void *handler)');
  for (let sig = 1; sig <= 64; sig++) {
    // 9 and 19 cannot be changed; 32 and 33 belong to glibc's threading.
    if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue;
    signal(sig, null);
  }
  const empty = Buffer.alloc(128);
  check(fn('int sigprocmask(int how, const uint8_t *set, uint8_t *old)')(SIG_SETMASK, empty, null), 'sigprocmask');
}

const WNOHANG = 1;

/** How a child ended, decoded from wait status: an exit code, or the number of the signal that killed it. */
export interface WaitStatus {
  code: number | null;
  signal: number | null;
}

/**
 * waitpid(pid, WNOHANG): the child's status once it has ended (and reaps it), undefined while it runs. For
 * children Node did not spawn itself (orphans adopted as a child subreaper), which libuv never reaps.
 */
export function waitpidNoHang(pid: number): WaitStatus | undefined {
  const status = Buffer.alloc(4);
  const result = check(fn('int waitpid(int pid, int *status, int options)')(pid, status, WNOHANG), 'waitpid');
  if (result === 0) return undefined;
  const raw = status.readInt32LE(0);
  return (raw & 0x7f) === 0 ? { code: (raw >> 8) & 0xff, signal: null } : { code: null, signal: raw & 0x7f };
}
