// Helpers shared by the lessons' checks: they read kernel state from /proc (never text a learner printed)
// and build the results a learner sees (what was seen, what was expected, what to try).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureDefaultRootfs } from '../../fs/busybox-rootfs.js';
import { defaultSpec, formatSpec } from '../../runtime/spec/default-spec.js';
import type { Spec } from '../../runtime/spec/types.js';
import { isAlive, namespaceLink, readProcStat } from '../../linux/proc.js';
import type { LessonContainer } from '../lesson-container.js';
import type { LaunchPlan, LaunchResult } from '../container/plan.js';
import type { StepBuild } from '../step-build.js';
import type { CheckContext, CheckResult, CommandResult } from './types.js';

export function pass(name: string, saw?: string): CheckResult {
  return { name, ok: true, saw };
}

export function fail(name: string, saw: string, expected: string, hint: string): CheckResult {
  return { name, ok: false, saw, expected, hint };
}

/** One check: `ok` decides between pass and fail, the rest describes it. */
export function verdict(name: string, ok: boolean, saw: string, expected: string, hint: string): CheckResult {
  return ok ? pass(name, saw) : fail(name, saw, expected, hint);
}

/**
 * The running lesson container, or the failing results to return when there is none (or it was started for
 * an earlier lesson: its level, the number of the lesson that started it, is below this lesson's). Use as:
 *   const container = requireContainer(ctx); if (Array.isArray(container)) return container;
 */
export function requireContainer(ctx: CheckContext): LessonContainer | CheckResult[] {
  const container = ctx.container;
  if (!container || !fs.existsSync(`/proc/${container.pid}`)) {
    return [fail('the lesson container is running', 'no lesson container', 'a running lesson container', 'run the lesson\'s "switch the feature on" cell')];
  }
  const minLevel = ctx.lesson.number;
  if (container.level < minLevel) {
    return [
      fail(
        'the lesson container is running',
        `a lesson container at level ${container.level} (started by lesson ${container.lesson})`,
        `a lesson container at level ${minLevel} or higher`,
        'run this lesson\'s "switch the feature on" cell',
      ),
    ];
  }
  return container;
}

/** The contents of a file, or undefined when it cannot be read. */
export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** That process `pid` has a `type` namespace of its own: its /proc/<pid>/ns link differs from the lab's (the host's). */
export function ownNamespace(pid: number, type: string, name: string, hint: string): CheckResult {
  const mine = namespaceLink(pid, type);
  const host = namespaceLink('self', type);
  return verdict(name, mine !== undefined && mine !== host, `container ${mine ?? '?'}, host ${host ?? '?'}`, `two different ${type} inodes`, hint);
}

/** A short rendering of a list for `saw`: "3 (1 7 9)" or "120 (1 2 3 4 5 6 ...)". */
export function describeList(items: Array<string | number>, max = 6): string {
  const shown = items.slice(0, max).join(' ');
  return `${items.length} (${shown}${items.length > max ? ' ...' : ''})`;
}

/** Text of an error for `saw`. */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Runs argv (no shell) and collects its output; a timeout ends it with SIGKILL. Never rejects. */
function runArgv(argv: string[], timeoutMs = 20_000): Promise<CommandResult & { timedOut: boolean }> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
      const code = e ? (typeof e.code === 'number' ? e.code : 127) : 0;
      resolve({ code, stdout: stdout ?? '', stderr: `${stderr ?? ''}${e && typeof e.code !== 'number' && !e.killed ? e.message : ''}`, timedOut: Boolean(e?.killed) });
    });
  });
}

export interface ProbeReply {
  ok: boolean;
  result?: unknown;
  error?: string;
  /** What the shell commands after the call printed. */
  after: string[];
}

/**
 * Calls a step function of `build` as ctx.probe does, but inside new namespaces made by unshare(1) (e.g.
 * ['--uts']), so that a step that changes its namespace cannot touch the host's. `setup` runs before the
 * call and `after` after it, in the same namespaces; their output is returned as lines.
 */
export async function probeInNewNamespaces(
  build: StepBuild,
  unshareFlags: string[],
  fn: string,
  args: unknown[],
  setup = ':',
  after = ':',
): Promise<ProbeReply> {
  const script = path.join(build.dir, 'lab', 'container', 'probe.cjs');
  const body = `set -e\n${setup}\necho '--probe--'\n"$0" "$1" "$2" "$3"\necho '--after--'\n${after}`;
  const r = await runArgv(['unshare', ...unshareFlags, '--', 'sh', '-c', body, process.execPath, script, fn, JSON.stringify(args)]);
  const text = r.stdout;
  const reply = text.slice(text.indexOf('--probe--\n') + 10, text.indexOf('--after--')).trim().split('\n').pop() ?? '';
  const afterLines = text.includes('--after--') ? text.slice(text.indexOf('--after--') + 10).split('\n').filter(Boolean) : [];
  try {
    return { ...(JSON.parse(reply) as { ok: boolean; result?: unknown; error?: string }), after: afterLines };
  } catch {
    const why = (r.stderr || text).trim().split('\n').slice(-2).join(' / ');
    return { ok: false, error: `${fn}() crashed (exit status ${r.code}): ${why || 'no output'}`, after: afterLines };
  }
}

/** An OCI bundle at `dir`: a copy of the busybox rootfs and runc's default config running `args`, edited by `edit`. */
export function makeBundle(dir: string, args: string[], edit?: (spec: Spec) => void): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(ensureDefaultRootfs(), path.join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  const spec = defaultSpec({ terminal: false });
  spec.process!.args = args;
  edit?.(spec);
  fs.writeFileSync(path.join(dir, 'config.json'), formatSpec(spec));
}

/**
 * A container of the check's own, made by the lesson container launcher of `build` from `plan` (the lesson
 * container stays as it is). The caller ends it with endLaunched.
 */
export function launchWithPlan(build: StepBuild, plan: LaunchPlan): Promise<LaunchResult> {
  const launcher = path.join(build.dir, 'lab', 'container', 'launcher.cjs');
  return new Promise((resolve) => {
    execFile(process.execPath, [launcher, JSON.stringify(plan)], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as LaunchResult);
      } catch {
        resolve({ ok: false, error: `the launcher failed: ${(stderr || err?.message || 'no output').trim()}` });
      }
    });
  });
}

/** Ends a container started by launchWithPlan (it leads its own process group) and waits until it is gone. */
export async function endLaunched(pid: number): Promise<void> {
  const startTime = readProcStat(pid)?.startTime;
  if (startTime === undefined) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone, or no group of that id.
    }
  }
  for (let waited = 0; waited < 5000 && isAlive(pid, startTime); waited += 50) await sleep(50);
}
