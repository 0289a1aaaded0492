// Lesson 1: a process. Real children are started and ended (by exit or by a signal); the learner's
// exitStatus gets what the kernel told Node about each, and must agree with the status sh reports for the
// same end. Then: the lesson container is a live process sharing every namespace with the host.
import { spawn, spawnSync } from 'node:child_process';
import { namespaceLink } from '../../linux/proc.js';
import { errorText, fail, pass, readText, requireContainer, verdict } from './common.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';

const NAMESPACES = ['uts', 'pid', 'mnt', 'net', 'ipc', 'cgroup'];

interface Ending {
  label: string;
  /** A command whose own end is the one under test (run directly by Node). */
  argv: string[];
  /** Signal sent to it once it runs, if any. */
  signal?: NodeJS.Signals;
  /** The same end inside sh, which exits with the status it computed for it. */
  shell: string;
}

const ENDINGS: Ending[] = [
  { label: "sh -c 'exit 0'", argv: ['sh', '-c', 'exit 0'], shell: "sh -c 'exit 0'" },
  { label: "sh -c 'exit 3'", argv: ['sh', '-c', 'exit 3'], shell: "sh -c 'exit 3'" },
  { label: 'sleep killed by SIGKILL', argv: ['sleep', '30'], signal: 'SIGKILL', shell: 'sleep 30 & kill -KILL $!; wait $!' },
  { label: 'sleep killed by SIGTERM', argv: ['sleep', '30'], signal: 'SIGTERM', shell: 'sleep 30 & kill -TERM $!; wait $!' },
  { label: 'sleep killed by SIGHUP', argv: ['sleep', '30'], signal: 'SIGHUP', shell: 'sleep 30 & kill -HUP $!; wait $!' },
];

/** Runs the command and reports how it ended, as the kernel told Node: (code, signal). */
function endOf(ending: Ending): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(ending.argv[0], ending.argv.slice(1), { stdio: 'ignore' });
    child.once('error', reject);
    child.once('spawn', () => {
      if (ending.signal) child.kill(ending.signal);
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** The status sh itself reports for the same end (sh exits with it). */
function shellStatus(ending: Ending): number | null {
  return spawnSync('sh', ['-c', ending.shell], { stdio: 'ignore', timeout: 10_000 }).status;
}

async function exitStatusResults(ctx: CheckContext): Promise<CheckResult[]> {
  const ends: Array<{ ending: Ending; end: Awaited<ReturnType<typeof endOf>>; expected: number | null }> = [];
  for (const ending of ENDINGS) ends.push({ ending, end: await endOf(ending), expected: shellStatus(ending) });
  // Every end asked of one process: exitStatus only computes.
  const replies = await ctx.probeEach('exitStatus', ends.map(({ end }) => [end.code, end.signal]));
  const results: CheckResult[] = [];
  for (const [i, { ending, end, expected }] of ends.entries()) {
    const name = `exitStatus for ${ending.label}`;
    const args = `exitStatus(${JSON.stringify(end.code)}, ${JSON.stringify(end.signal)})`;
    const reply = replies[i];
    if (!reply.ok) {
      // One failure says it all: the other endings would throw the same.
      results.push(fail(name, `${args} threw ${errorText(reply.error)}`, `${expected} (what sh reports)`, 'write exitStatus in sandbox/steps/exit-status.ts'));
      break;
    }
    results.push(
      verdict(
        name,
        reply.result === expected,
        `${args} = ${JSON.stringify(reply.result)}`,
        `${expected} (what sh reports)`,
        end.signal
          ? `a death by signal is 128 + the signal's number: os.constants.signals.${end.signal} is ${expected === null ? '?' : expected - 128}`
          : 'when the code is not null, return it unchanged',
      ),
    );
  }
  return results;
}

function containerResults(ctx: CheckContext): CheckResult[] {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const stat = readText(`/proc/${pid}/stat`) ?? '';
  // The command name (field 2) may hold spaces and parentheses: the state follows the last ')'.
  const state = stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] : '';
  const cmdline = (readText(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
  const results: CheckResult[] = [
    verdict(
      'the lesson container is a live process',
      state !== '' && state !== 'Z' && state !== 'X',
      `pid ${pid}, state ${state || 'gone'}, running: ${cmdline || '?'}`,
      'a running (or sleeping) process',
      'run the lesson\'s "switch the feature on" cell again',
    ),
  ];
  if (container.level > 1) {
    // Started by a later lesson: its namespaces are meant to be its own.
    results.push(pass('it shares the host namespaces of lesson 1', `the container runs at level ${container.level}: from lesson 2 on it has namespaces of its own`));
    return results;
  }
  const different = NAMESPACES.filter((ns) => namespaceLink(pid, ns) !== namespaceLink('self', ns));
  results.push(
    verdict(
      'it shares every namespace with the host',
      different.length === 0,
      different.length
        ? different.map((ns) => `${ns}: container ${namespaceLink(pid, ns) ?? '?'}, host ${namespaceLink('self', ns) ?? '?'}`).join('; ')
        : NAMESPACES.map((ns) => namespaceLink(pid, ns)).join(' '),
      'the same inode as the host for uts, pid, mnt, net, ipc and cgroup',
      'a plain child inherits every namespace of its parent: at lesson 1 nothing is unshared',
    ),
  );
  return results;
}

export const check: LessonCheck = async (ctx) => [...(await exitStatusResults(ctx)), ...containerResults(ctx)];
