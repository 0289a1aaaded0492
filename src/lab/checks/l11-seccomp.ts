// Lesson 11: seccomp. The container's init has a filter (/proc/<pid>/status: Seccomp 2, one filter) and
// no_new_privs; a script run by the init's own shell (a child inherits the filter; a process that joins the
// container later, as these checks' commands do, does not) sees unshare and setns fail with the profile's
// errno, ENOSYS, not the capability check's EPERM, while mkdir still works. The errno is read from the
// message busybox prints for it (strerror of the errno the kernel returned).
import { errnoName, errnoNumber, errnoText } from '../../linux/errno.js';
import { LESSON_SECCOMP, UNDER_FILTER } from '../container/plan.js';
import { readStatusField } from '../../linux/proc.js';
import { requireContainer, verdict } from './common.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';

const RULE = LESSON_SECCOMP.syscalls[0];
const ERRNO = RULE.errnoRet!;
/** The errnos a learner's filter (or the kernel without one) may answer with, to name what was seen. */
const KNOWN = [ERRNO, errnoNumber('EPERM')!, errnoNumber('EACCES')!, errnoNumber('EINVAL')!, 0];

/** What the shell of the container's init runs on SIGUSR1, as its child: one line per probe. */
const SCRIPT = [
  'r=$(unshare -U true 2>&1); echo "unshare $? $r"',
  'r=$(nsenter -t 1 -u true 2>&1); echo "setns $? $r"',
  'r=$(mkdir /.tslab-allowed 2>&1 && rmdir /.tslab-allowed 2>&1); echo "mkdir $? $r"',
  "echo \"filter $(grep '^Seccomp:' /proc/self/status | tr -s ' \\t' ' ')\"",
].join('\n');

interface Probe {
  status: number;
  message: string;
}

/** Writes the script, signals the init's shell, waits for its exit status, and returns each probe's line. */
async function runUnderFilter(ctx: CheckContext): Promise<{ probes: Map<string, Probe>; problem?: string }> {
  const { script, out, status } = UNDER_FILTER;
  const command = [
    `rm -f ${out} ${status}`,
    `cat > ${script} <<'TSLAB_EOF'\n${SCRIPT}\nTSLAB_EOF`,
    'kill -USR1 1',
    `i=0; while [ ! -s ${status} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
    `[ -s ${status} ] || { echo "no ${status} after 10 s" >&2; exit 3; }`,
    `cat ${out}`,
    `rm -f ${script} ${out} ${status}`,
  ].join('\n');
  const r = await ctx.inContainer(command, 30_000);
  const probes = new Map<string, Probe>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\w+) (\d+) ?(.*)$/.exec(line);
    if (m) probes.set(m[1], { status: Number(m[2]), message: m[3] });
    const f = /^filter Seccomp: (\d+)/.exec(line);
    if (f) probes.set('filter', { status: Number(f[1]), message: line });
  }
  if (r.code !== 0) return { probes, problem: `the container's shell did not run the script on SIGUSR1 (${r.stderr.trim() || `exit status ${r.code}`})` };
  return { probes };
}

/** The errno whose text the message shows (0: the call worked), or undefined. */
function errnoSeen(probe: Probe): number | undefined {
  if (probe.status === 0) return 0;
  return KNOWN.find((n) => n !== 0 && probe.message.toLowerCase().includes(errnoText(n)));
}

function describe(probe: Probe | undefined): string {
  if (!probe) return 'no answer';
  const errno = errnoSeen(probe);
  const name = errno === undefined ? 'an errno not told apart' : errno === 0 ? 'it worked' : errnoName(errno);
  return `exit status ${probe.status}${probe.message ? ` ("${probe.message}")` : ''}: ${name}`;
}

/**
 * `unshareErrno`: what unshare -U answered. It needs no capability, so EPERM there is the filter's; setns
 * fails with EPERM without a filter too (no CAP_SYS_ADMIN), so EPERM there is the filter's only if unshare's was.
 */
function blockedCheck(call: 'unshare' | 'setns', command: string, probe: Probe | undefined, problem: string | undefined, unshareErrno?: number): CheckResult {
  const errno = probe ? errnoSeen(probe) : undefined;
  const eperm = errnoNumber('EPERM');
  let hint: string;
  if (problem) hint = problem;
  else if (errno === 0) hint = `${call} worked under the filter: a rule for "${call}" is missing (buildFilter adds one for every name of every rule) or the filter is not loaded`;
  else if (errno === eperm && call === 'setns' && unshareErrno !== eperm) hint = 'EPERM is the capability check\'s answer (no CAP_SYS_ADMIN): the filter let setns through. Add a rule for every name of the rule, not only the first';
  else if (errno === eperm) hint = 'EPERM is the default when errnoRet is left out: the rule\'s action is scmpActErrno(rule.errnoRet), 38 here';
  else hint = `the rule's action is scmpActErrno(rule.errnoRet): the profile says ${ERRNO} (${errnoName(ERRNO)})`;
  return verdict(
    `${call} fails with ${errnoName(ERRNO)} under the filter`,
    !problem && errno === ERRNO,
    problem ?? `${command}: ${describe(probe)}`,
    `${command} failing with ${errnoName(ERRNO)} ("${errnoText(ERRNO)}"), the profile's errnoRet`,
    hint,
  );
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const mode = readStatusField(pid, 'Seccomp');
  const filters = readStatusField(pid, 'Seccomp_filters');
  // The init inherits the filters of the lab itself (none, unless the lab runs in a filtered container).
  const inherited0 = Number(readStatusField('self', 'Seccomp_filters') ?? 0);
  const expectedFilters = String(inherited0 + 1);
  const noNewPrivs = readStatusField(pid, 'NoNewPrivs');
  const { probes, problem } = await runUnderFilter(ctx);
  const mkdir = probes.get('mkdir');
  const unshare = probes.get('unshare');
  const inherited = probes.get('filter');

  return [
    verdict(
      "a seccomp filter is loaded in the container's init",
      mode === '2' && filters === expectedFilters,
      `/proc/${pid}/status: Seccomp ${mode ?? '?'}, Seccomp_filters ${filters ?? '?'}`,
      `Seccomp 2 (filter mode), Seccomp_filters ${expectedFilters}${inherited0 ? ` (the lab's own ${inherited0} and yours)` : ''}`,
      mode === '2' && Number(filters) > inherited0
        ? 'load the filter once: loadFilter() calls filter.load(), buildFilter() does not'
        : 'loadFilter() must call filter.load() (seccomp_load) before filter.release(): release only frees libseccomp\'s copy',
    ),
    verdict(
      'no_new_privs is set',
      noNewPrivs === '1',
      `NoNewPrivs ${noNewPrivs ?? '?'}`,
      'NoNewPrivs 1',
      'loadFilter() sets no_new_privs before the load: prctl(PR_SET_NO_NEW_PRIVS, 1)',
    ),
    verdict(
      "the init's children inherit the filter",
      !problem && inherited?.status === 2,
      problem ?? `the script's own /proc/self/status: ${inherited ? `Seccomp ${inherited.status}` : 'unread'}`,
      'Seccomp 2 in a child of the init',
      'a child inherits the filter of the process that forked it: load it in the init, before execve',
    ),
    blockedCheck('unshare', 'unshare -U true', unshare, problem),
    blockedCheck('setns', 'nsenter -t 1 -u true', probes.get('setns'), problem, unshare && errnoSeen(unshare)),
    verdict(
      'an allowed system call still works under the filter',
      !problem && mkdir?.status === 0,
      problem ?? `mkdir /.tslab-allowed: ${describe(mkdir)}`,
      'mkdir working: only unshare and setns are blocked',
      "the default action answers every system call no rule names: it must be SCMP_ACT_ALLOW (the profile's defaultAction)",
    ),
  ];
};
