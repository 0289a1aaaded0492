// config.json's linux.seccomp read as runc 1.1.5 reads it: what each name means, what is refused, and the
// rules runc would add. No library is needed here, so config.json is checked before anything runs; see
// src/runtime/process/libseccomp-filter.ts for building and loading the filter with libseccomp.
//   - no defaultAction and no syscalls: no filter at all;
//   - SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE return errnoRet (defaultErrnoRet for the default
//     action), EPERM when none is given;
//   - a rule whose action is the default action is left out (libseccomp would refuse it);
//   - a rule's comparisons must all hold, except that two comparisons of the same argument make one
//     rule each (either may match), as runc does.
// Beyond runc 1.1.5 (which refuses every flag): SECCOMP_FILTER_FLAG_LOG and _SPEC_ALLOW are applied, and
// _TSYNC is accepted with nothing to do, since the filter is loaded by the thread that execve()s and
// execve() keeps no other thread. SCMP_ACT_NOTIFY and listenerPath (a seccomp agent) are refused.
import {
  SCMP_ACT_ALLOW,
  SCMP_ACT_KILL_PROCESS,
  SCMP_ACT_KILL_THREAD,
  SCMP_ACT_LOG,
  SCMP_ACT_NOTIFY,
  SCMP_ACT_TRAP,
  SCMP_CMP_EQ,
  SCMP_CMP_GE,
  SCMP_CMP_GT,
  SCMP_CMP_LE,
  SCMP_CMP_LT,
  SCMP_CMP_MASKED_EQ,
  SCMP_CMP_NE,
  SCMP_MAX_ARG_INDEX,
  SCMP_MAX_ERRNO,
  scmpActErrno,
  scmpActTrace,
  type ArgCompare,
} from '../../linux/seccomp.js';
import type { Seccomp } from './types.js';

const EPERM = 1;

const ACTIONS: Record<string, (ret: number | undefined) => number> = {
  SCMP_ACT_KILL: () => SCMP_ACT_KILL_THREAD,
  SCMP_ACT_KILL_THREAD: () => SCMP_ACT_KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: () => SCMP_ACT_KILL_PROCESS,
  SCMP_ACT_TRAP: () => SCMP_ACT_TRAP,
  SCMP_ACT_ERRNO: (ret) => scmpActErrno(ret ?? EPERM),
  SCMP_ACT_TRACE: (ret) => scmpActTrace(ret ?? EPERM),
  SCMP_ACT_ALLOW: () => SCMP_ACT_ALLOW,
  SCMP_ACT_LOG: () => SCMP_ACT_LOG,
  SCMP_ACT_NOTIFY: () => SCMP_ACT_NOTIFY,
};

const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE,
  SCMP_CMP_LT,
  SCMP_CMP_LE,
  SCMP_CMP_EQ,
  SCMP_CMP_GE,
  SCMP_CMP_GT,
  SCMP_CMP_MASKED_EQ,
};

/** runc 1.1.5's architectures, by libseccomp's names for them. */
const ARCHITECTURES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
};

const FLAG_TSYNC = 'SECCOMP_FILTER_FLAG_TSYNC';
const FLAG_LOG = 'SECCOMP_FILTER_FLAG_LOG';
const FLAG_SPEC_ALLOW = 'SECCOMP_FILTER_FLAG_SPEC_ALLOW';
const FLAGS = [FLAG_TSYNC, FLAG_LOG, FLAG_SPEC_ALLOW];

// Bounds for hostile configs. The real profiles are far below them (podman's: 35 entries, ~450 names;
// docker's: similar), and the kernel runs at most 4096 BPF instructions per filter anyway.
const MAX_ENTRIES = 4096;
const MAX_NAMES = 16384;
const MAX_ARGS = 32;
const MAX_ARCHITECTURES = 32;
const MAX_FLAGS = 8;
const MAX_NAME_LENGTH = 64;

export interface SeccompProblem {
  /** Where in config.json, like "linux.seccomp.syscalls[3].args[0].op". */
  field: string;
  sentence: string;
}

const list = (names: Iterable<string>): string => [...names].join(', ');

/** Why a number cannot be an errno for an action, or undefined if it can. */
function errnoProblem(action: string, ret: number | undefined): string | undefined {
  if (ret === undefined) return undefined;
  if (action === 'SCMP_ACT_ERRNO' && ret > SCMP_MAX_ERRNO) return `an errno from 0 to ${SCMP_MAX_ERRNO} (1 is EPERM, 38 ENOSYS)`;
  if (action === 'SCMP_ACT_TRACE' && ret > 0xffff) return 'a tracer message from 0 to 65535';
  return undefined;
}

/**
 * The first thing in `seccomp` that runc would refuse, or tslab cannot do, as a sentence naming the field;
 * undefined when the filter can be built. Needs no library: config.json is checked before anything runs.
 */
export function seccompProblem(seccomp: Seccomp, at = 'linux.seccomp'): SeccompProblem | undefined {
  const problem = (field: string, sentence: string): SeccompProblem => ({ field: `${at}${field}`, sentence });
  const syscalls = seccomp.syscalls ?? [];
  if (seccomp.defaultAction === '' && syscalls.length === 0) return undefined;

  if (seccomp.listenerPath) {
    return problem('.listenerPath', `${at}.listenerPath is set, but tslab does not support seccomp user notification (a seccomp agent listening on a socket); remove "listenerPath" and every SCMP_ACT_NOTIFY rule`);
  }
  const flags = seccomp.flags ?? [];
  if (flags.length > MAX_FLAGS) return problem('.flags', `${at}.flags lists ${flags.length} flags; there are only ${FLAGS.length} (${list(FLAGS)})`);
  for (const [i, flag] of flags.entries()) {
    if (!FLAGS.includes(flag)) {
      return problem(`.flags[${i}]`, `${at}.flags[${i}] is ${JSON.stringify(flag)}, which is not a seccomp flag tslab knows: use ${list(FLAGS)}`);
    }
  }
  const arches = seccomp.architectures ?? [];
  if (arches.length > MAX_ARCHITECTURES) return problem('.architectures', `${at}.architectures lists ${arches.length} entries; there are only ${Object.keys(ARCHITECTURES).length} architectures`);
  for (const [i, arch] of arches.entries()) {
    if (!Object.hasOwn(ARCHITECTURES, arch)) {
      return problem(`.architectures[${i}]`, `${at}.architectures[${i}] is ${JSON.stringify(arch)}, which is not a valid arch for seccomp: use one of ${list(Object.keys(ARCHITECTURES))}`);
    }
  }

  const actionProblem = (field: string, action: string): SeccompProblem | undefined => {
    if (!Object.hasOwn(ACTIONS, action)) {
      return problem(field, `${at}${field} is ${JSON.stringify(action)}, which is not a valid action for seccomp: use one of ${list(Object.keys(ACTIONS))}`);
    }
    if (action === 'SCMP_ACT_NOTIFY') {
      return problem(field, `${at}${field} is SCMP_ACT_NOTIFY, but tslab does not support seccomp user notification (it needs a seccomp agent at listenerPath); use SCMP_ACT_ERRNO to refuse the call instead`);
    }
    return undefined;
  };
  const defaultProblem = actionProblem('.defaultAction', seccomp.defaultAction);
  if (defaultProblem) return defaultProblem;
  const defaultRetProblem = errnoProblem(seccomp.defaultAction, seccomp.defaultErrnoRet);
  if (defaultRetProblem) return problem('.defaultErrnoRet', `${at}.defaultErrnoRet is ${seccomp.defaultErrnoRet}, but it must be ${defaultRetProblem}`);

  if (syscalls.length > MAX_ENTRIES) return problem('.syscalls', `${at}.syscalls has ${syscalls.length} entries; tslab takes at most ${MAX_ENTRIES} (a filter the kernel can load is far smaller)`);
  let names = 0;
  for (const [i, call] of syscalls.entries()) {
    const field = `.syscalls[${i}]`;
    const p = actionProblem(`${field}.action`, call.action);
    if (p) return p;
    const retProblem = errnoProblem(call.action, call.errnoRet);
    if (retProblem) return problem(`${field}.errnoRet`, `${at}${field}.errnoRet is ${call.errnoRet}, but it must be ${retProblem}`);
    names += call.names.length;
    if (names > MAX_NAMES) return problem(`${field}.names`, `${at}.syscalls name more than ${MAX_NAMES} system calls in all; Linux has fewer than 500`);
    for (const [j, name] of call.names.entries()) {
      if (name === '') return problem(`${field}.names[${j}]`, `${at}${field}.names[${j}] is empty, which is not a valid syscall`);
      if (name.length > MAX_NAME_LENGTH || !/^[A-Za-z0-9_]+$/.test(name)) {
        return problem(`${field}.names[${j}]`, `${at}${field}.names[${j}] is ${JSON.stringify(name.slice(0, MAX_NAME_LENGTH))}${name.length > MAX_NAME_LENGTH ? '...' : ''}, which is not a system call name (letters, digits and "_", at most ${MAX_NAME_LENGTH})`);
      }
    }
    const args = call.args ?? [];
    if (args.length > MAX_ARGS) return problem(`${field}.args`, `${at}${field}.args has ${args.length} comparisons; tslab takes at most ${MAX_ARGS} (a system call has 6 arguments)`);
    for (const [j, arg] of args.entries()) {
      const argField = `${field}.args[${j}]`;
      if (arg.index > SCMP_MAX_ARG_INDEX) {
        return problem(`${argField}.index`, `${at}${argField}.index is ${arg.index}, but syscalls only have up to 6 arguments: index goes from 0 to ${SCMP_MAX_ARG_INDEX}`);
      }
      if (!Object.hasOwn(OPERATORS, arg.op)) {
        return problem(`${argField}.op`, `${at}${argField}.op is ${JSON.stringify(arg.op)}, which is not a valid operator for seccomp: use one of ${list(Object.keys(OPERATORS))}`);
      }
    }
  }
  return undefined;
}

export interface SeccompRule {
  name: string;
  action: number;
  args: ArgCompare[];
}

export interface SeccompPlan {
  defaultAction: number;
  architectures: string[];
  rules: SeccompRule[];
  log: boolean;
  specAllow: boolean;
}

/**
 * The filter runc would build, rules in its order; undefined when the config asks for none. `seccomp` must
 * have passed seccompProblem.
 */
export function seccompPlan(seccomp: Seccomp): SeccompPlan | undefined {
  const syscalls = seccomp.syscalls ?? [];
  if (seccomp.defaultAction === '' && syscalls.length === 0) return undefined;
  const defaultAction = ACTIONS[seccomp.defaultAction](seccomp.defaultErrnoRet);
  const rules: SeccompRule[] = [];
  for (const call of syscalls) {
    const action = ACTIONS[call.action](call.errnoRet);
    if (action === defaultAction) continue;
    const args = (call.args ?? []).map((a) => ({ arg: a.index, op: OPERATORS[a.op], datumA: BigInt(a.value), datumB: BigInt(a.valueTwo ?? 0) }));
    const sameArgumentTwice = new Set(args.map((a) => a.arg)).size < args.length;
    for (const name of call.names) {
      if (sameArgumentTwice) for (const a of args) rules.push({ name, action, args: [a] });
      else rules.push({ name, action, args });
    }
  }
  const flags = seccomp.flags ?? [];
  return {
    defaultAction,
    architectures: (seccomp.architectures ?? []).map((a) => ARCHITECTURES[a]),
    rules,
    log: flags.includes(FLAG_LOG),
    specAllow: flags.includes(FLAG_SPEC_ALLOW),
  };
}
