// Lesson 11: buildFilter and loadFilter. The lesson: a rule's action is scmpActErrno(rule.errnoRet), for
// every name of the rule; the default action answers every other call (ALLOW, not KILL); build early, load
// last; no_new_privs before the load; release() only frees libseccomp's copy, load() puts it in the kernel.
import type { LessonMutants } from './mutant.js';

export const lesson11: LessonMutants = {
  lesson: '11-seccomp',
  mutants: [
    {
      name: 'errnoRet ignored: every rule answers EPERM',
      edits: [['scmpActErrno(errnoRet ?? errnoNumber(\'EPERM\')!)', 'scmpActErrno(errnoNumber(\'EPERM\')!)']],
      caught: /unshare -U true: exit status 1 .*EPERM[\s\S]*EPERM is the default when errnoRet is left out[\s\S]*nsenter[\s\S]*EPERM is the default when errnoRet is left out/,
    },
    {
      name: 'only the first name of a rule gets a rule: setns let through',
      edits: [['for (const name of rule.names) {', 'for (const name of rule.names.slice(0, 1)) {']],
      caught: /nsenter -t 1 -u true: exit status 1 .*EPERM[\s\S]*the filter let setns through/,
    },
    {
      name: 'released without loading: the filter never reaches the kernel',
      edits: [['    filter.load();\n', '']],
      caught: /Seccomp \d, Seccomp_filters \d+[\s\S]*must call filter\.load\(\)/,
    },
    {
      name: 'default action kill instead of allow',
      edits: [['new SeccompFilter(actionOf(profile.defaultAction))', 'new SeccompFilter(SCMP_ACT_KILL_PROCESS)'], ['  SCMP_ACT_ALLOW,\n', '  SCMP_ACT_ALLOW,\n  SCMP_ACT_KILL_PROCESS,\n']],
      caught: /killed by SIGSYS[\s\S]*SCMP_ACT_KILL_PROCESS/,
    },
    {
      name: 'loaded in buildFilter, before the runtime\'s own work',
      edits: [['    return filter;\n', '    filter.load();\n    return filter;\n']],
      caught: /unshare[\s\S]*ENOSYS[\s\S]*already in the kernel when buildFilter\(\) returned[\s\S]*as late as possible/,
    },
    {
      name: 'no_new_privs not set before the load',
      edits: [['    prctl(PR_SET_NO_NEW_PRIVS, 1);\n', '']],
      caught: /seccomp_load: EACCES[\s\S]*no_new_privs or CAP_SYS_ADMIN[\s\S]*loadFilter\(\) sets no_new_privs/,
    },
  ],
};
