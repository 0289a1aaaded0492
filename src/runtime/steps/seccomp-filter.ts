// Lesson 11: a seccomp filter is a small program the kernel runs at the entry of every system call the
// process makes: it answers allow, fail with an errno, or kill. libseccomp compiles a profile (a default
// action and rules per system call, as config.json's linux.seccomp says it) into that program. Built early,
// while the host's files are visible and nothing is final; loaded last, just before execve, so the
// runtime's own calls are never filtered. The kernel takes a filter from a process with no_new_privs set or
// CAP_SYS_ADMIN: at this point the init has dropped CAP_SYS_ADMIN, so no_new_privs goes first.
import {
  PR_SET_NO_NEW_PRIVS,
  SCMP_ACT_ALLOW,
  SCMP_FLTATR_CTL_NNP,
  SeccompFilter,
  errnoNumber,
  prctl,
  resolveSyscall,
  scmpActErrno,
} from '../../linux/index.js';

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

function actionOf(name: string, errnoRet?: number): number {
  if (name === 'SCMP_ACT_ALLOW') return SCMP_ACT_ALLOW;
  if (name === 'SCMP_ACT_ERRNO') return scmpActErrno(errnoRet ?? errnoNumber('EPERM')!);
  throw new Error(`the lesson's profile has no action ${name}`);
}

export function buildFilter(profile: SeccompProfile): SeccompFilter {
  const filter = new SeccompFilter(actionOf(profile.defaultAction));
  try {
    // libseccomp would set no_new_privs inside seccomp_load on its own: loadFilter sets it, visibly.
    filter.setAttr(SCMP_FLTATR_CTL_NNP, 0);
    for (const rule of profile.syscalls) {
      for (const name of rule.names) {
        const nr = resolveSyscall(name);
        if (nr === undefined) continue; // unknown to this libseccomp: skipped, as runc skips it
        filter.addRule(actionOf(rule.action, rule.errnoRet), nr, [], name);
      }
    }
    return filter;
  } catch (err) {
    filter.release();
    throw err;
  }
}

export function loadFilter(filter: SeccompFilter): void {
  try {
    prctl(PR_SET_NO_NEW_PRIVS, 1);
    filter.load();
  } finally {
    filter.release();
  }
}
