// seccomp system-call filters through libseccomp (Debian's libseccomp2, `libseccomp.so.2`): the library
// compiles rules into the BPF program and loads it, so nothing here writes BPF by hand.
//
// Every libseccomp call returns 0 or -errno (NULL for seccomp_init); each failure becomes a SyscallError
// named after the library function. The library is loaded the first time a filter is made: processes
// that never filter (most of them) pay nothing for it.
//
// Nothing here knows about containers: see src/runtime/process/libseccomp-filter.ts for config.json's linux.seccomp.

import { koffi } from './libc.js';
import { SyscallError } from './error.js';
import { errnoNumber } from './errno.js';

// Actions (seccomp.h). KILL is KILL_THREAD; ERRNO and TRACE carry 16 bits of data.
export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_KILL_THREAD = 0x00000000;
export const SCMP_ACT_TRAP = 0x00030000;
export const SCMP_ACT_NOTIFY = 0x7fc00000;
export const SCMP_ACT_LOG = 0x7ffc0000;
export const SCMP_ACT_ALLOW = 0x7fff0000;
export const scmpActErrno = (errno: number): number => (0x00050000 | (errno & 0xffff)) >>> 0;
export const scmpActTrace = (msg: number): number => (0x7ff00000 | (msg & 0xffff)) >>> 0;

/** The largest errno an ERRNO action can return: libseccomp refuses 4095 (MAX_ERRNO) and above. */
export const SCMP_MAX_ERRNO = 4094;

// enum scmp_compare
export const SCMP_CMP_NE = 1;
export const SCMP_CMP_LT = 2;
export const SCMP_CMP_LE = 3;
export const SCMP_CMP_EQ = 4;
export const SCMP_CMP_GE = 5;
export const SCMP_CMP_GT = 6;
export const SCMP_CMP_MASKED_EQ = 7;

// enum scmp_filter_attr
export const SCMP_FLTATR_CTL_NNP = 3;
export const SCMP_FLTATR_CTL_LOG = 6;
export const SCMP_FLTATR_CTL_SSB = 7;
export const SCMP_FLTATR_API_SYSRAWRC = 9;

/** A system call has at most six arguments, numbered 0 to 5. */
export const SCMP_MAX_ARG_INDEX = 5;

/** One argument comparison: argument `arg` (0-5) compared by `op` with `datumA` (and `datumB` for MASKED_EQ). */
export interface ArgCompare {
  arg: number;
  op: number;
  datumA: bigint;
  datumB: bigint;
}

// struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a, datum_b; }: 24 bytes.
const ARG_CMP_SIZE = 24;

interface Lib {
  init: (action: number) => unknown;
  release: (ctx: unknown) => void;
  archAdd: (ctx: unknown, arch: number) => number;
  archResolve: (name: string) => number;
  syscallResolve: (name: string) => number;
  ruleAdd: (ctx: unknown, action: number, nr: number, count: number, args: Buffer | null) => number;
  attrSet: (ctx: unknown, attr: number, value: number) => number;
  load: (ctx: unknown) => number;
  apiGet: () => number;
}

let so: ReturnType<typeof koffi.load> | undefined;
let loadError: Error | undefined;
let lib: Lib | undefined;

/**
 * Maps libseccomp now. dlopen() searches the calling process's filesystem: a process about to enter a
 * container's root or mount namespace calls this first, or the library is looked for in the container.
 */
export function preloadLibseccomp(): void {
  if (so || loadError) return;
  try {
    so = koffi.load('libseccomp.so.2');
  } catch (err) {
    loadError = new Error(`seccomp filters need libseccomp (Debian's package libseccomp2), which could not be loaded: ${(err as Error).message}`);
  }
}

function library(): Lib {
  if (lib) return lib;
  preloadLibseccomp();
  if (!so) throw loadError!;
  lib = {
    init: so.func('void *seccomp_init(uint32_t def_action)'),
    release: so.func('void seccomp_release(void *ctx)'),
    archAdd: so.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
    archResolve: so.func('uint32_t seccomp_arch_resolve_name(const char *name)'),
    syscallResolve: so.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAdd: so.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const void *arg_array)'),
    attrSet: so.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    load: so.func('int seccomp_load(void *ctx)'),
    apiGet: so.func('unsigned int seccomp_api_get(void)'),
  };
  return lib;
}

function check(rc: number, fn: string, detail?: string): void {
  if (rc < 0) throw new SyscallError(fn, -rc, undefined, detail);
}

/**
 * The system-call number of `name` on this machine, as libseccomp knows it, or undefined when it does not
 * know the name. A name it knows for other architectures only resolves to a negative pseudo-number, which
 * rules accept (libseccomp translates it for each architecture of the filter).
 */
export function resolveSyscall(name: string): number | undefined {
  const nr = library().syscallResolve(name);
  return nr === -1 ? undefined : nr;
}

/** libseccomp's token for an architecture name such as "x86_64", "x86", "x32", "aarch64"; undefined if unknown. */
export function resolveArch(name: string): number | undefined {
  const token = library().archResolve(name);
  return token === 0 ? undefined : token;
}

/** libseccomp's API level: what the library and the running kernel support together (3: LOG, 4: SSB, 6: NOTIFY). */
export function seccompApiLevel(): number {
  return library().apiGet();
}

/** A filter being built in libseccomp: rules are added, then loaded into the calling thread, then released. */
export class SeccompFilter {
  private ctx: unknown;

  constructor(defaultAction: number) {
    const ctx = library().init(defaultAction);
    if (!ctx) throw new SyscallError('seccomp_init', errnoNumber('EINVAL')!, undefined, `libseccomp refused the default action 0x${defaultAction.toString(16)}`);
    this.ctx = ctx;
    // Report the kernel's own errno from seccomp_load (EACCES), not libseccomp's -ECANCELED for every failure.
    this.setAttr(SCMP_FLTATR_API_SYSRAWRC, 1);
  }

  private live(): unknown {
    if (!this.ctx) throw new Error('this seccomp filter has been released');
    return this.ctx;
  }

  /** Adds an architecture; the native one is there from the start, and adding it again is not an error. */
  addArch(token: number): void {
    const rc = library().archAdd(this.live(), token);
    if (rc !== -errnoNumber('EEXIST')!) check(rc, 'seccomp_arch_add');
  }

  setAttr(attr: number, value: number): void {
    check(library().attrSet(this.live(), attr, value), 'seccomp_attr_set');
  }

  /** A rule: `action` for system call `nr` when every comparison in `args` holds (always, if there are none). */
  addRule(action: number, nr: number, args: readonly ArgCompare[], what = `system call ${nr}`): void {
    let buf: Buffer | null = null;
    if (args.length > 0) {
      buf = Buffer.alloc(ARG_CMP_SIZE * args.length);
      args.forEach((a, i) => {
        const at = i * ARG_CMP_SIZE;
        buf!.writeUInt32LE(a.arg, at);
        buf!.writeInt32LE(a.op, at + 4);
        buf!.writeBigUInt64LE(a.datumA, at + 8);
        buf!.writeBigUInt64LE(a.datumB, at + 16);
      });
    }
    const rc = library().ruleAdd(this.live(), action, nr, args.length, buf);
    check(rc, 'seccomp_rule_add', rc < 0 ? `libseccomp refused the rule for ${what}: ${ruleProblem(-rc)}` : undefined);
  }

  /** Loads the filter into the calling thread (and, with TSYNC, every thread of the process). */
  load(): void {
    const rc = library().load(this.live());
    if (rc === -errnoNumber('EACCES')!) {
      check(rc, 'seccomp_load', 'installing a seccomp filter needs no_new_privs or CAP_SYS_ADMIN');
    }
    check(rc, 'seccomp_load');
  }

  release(): void {
    if (this.ctx) library().release(this.ctx);
    this.ctx = undefined;
  }
}

function ruleProblem(errno: number): string {
  switch (errno) {
    case errnoNumber('EACCES'):
      return 'its action is the filter\'s default action';
    case errnoNumber('EEXIST'):
      return 'it conflicts with a rule already added for that system call';
    case errnoNumber('EINVAL'):
      return 'an invalid action or comparison, or two comparisons of the same argument';
    case errnoNumber('EDOM'):
      return 'the rule cannot be expressed on one of the filter\'s architectures';
    case errnoNumber('EFAULT'):
      return 'libseccomp does not know the system call';
    default:
      return `libseccomp returned -${errno}`;
  }
}
