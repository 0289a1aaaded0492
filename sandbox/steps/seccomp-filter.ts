// LESSON 11 — seccomp: a filter on system calls
//
// A seccomp filter is run by the kernel at every system call the process makes, and answers: allow, fail
// with an errno, or kill. libseccomp (SeccompFilter) builds it from a default action and rules.
// Write buildFilter(profile): new SeccompFilter(default action); setAttr(SCMP_FLTATR_CTL_NNP, 0) so
// libseccomp leaves no_new_privs to you; for every name of every rule, resolveSyscall(name) (skip an
// unknown one) and addRule(scmpActErrno(rule.errnoRet ?? EPERM), nr, [], name). Build only: no load here.
// Write loadFilter(filter): prctl(PR_SET_NO_NEW_PRIVS, 1), filter.load(), and filter.release() in a finally.
// The launcher builds first thing and loads last, just before the container's program is exec'd.
import {
  PR_SET_NO_NEW_PRIVS,
  SCMP_ACT_ALLOW,
  SCMP_FLTATR_CTL_NNP,
  SeccompFilter,
  errnoNumber,
  prctl,
  resolveSyscall,
  scmpActErrno,
} from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

/** A rule of the profile: these system calls fail with errno `errnoRet` (EPERM when it is left out, as the OCI spec says). */
export interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ERRNO';
  errnoRet?: number;
}

/** The subset of config.json's linux.seccomp the lesson uses: a default action and rules. */
export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ALLOW';
  syscalls: SeccompRule[];
}

export function buildFilter(profile: SeccompProfile): SeccompFilter {
  // TODO(lesson 11): build the filter in libseccomp; do not load it.
  throw new NotWrittenYet(11, 'buildFilter', 'seccomp-filter.ts', 'new SeccompFilter(SCMP_ACT_ALLOW); for each name: filter.addRule(scmpActErrno(rule.errnoRet ?? errnoNumber(\'EPERM\')!), resolveSyscall(name)!, [], name)');
}

export function loadFilter(filter: SeccompFilter): void {
  // TODO(lesson 11): no_new_privs, then load the filter into the kernel, then release libseccomp's copy.
  throw new NotWrittenYet(11, 'loadFilter', 'seccomp-filter.ts', 'prctl(PR_SET_NO_NEW_PRIVS, 1); filter.load(); and filter.release() in a finally');
}
