// The lab's side of container/probe.ts: a step function of a build, called in a child process of its own
// with each of a list of argument lists. One Node start serves every call (lesson 0 asks about ten names);
// a call that crashes or hangs the probe still cannot take the lab with it, and is named.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { REPLY_MARK } from './container/probe-protocol.js';
import type { StepBuild } from './step-build.js';

export type ProbeOutcome = { ok: true; result: unknown } | { ok: false; error: Error };

const PROBE_TIMEOUT_MS = 10_000;

/** Calls `fn` of `build` with each argument list of `calls`, in order, in one child process. */
export function probeEach(build: StepBuild, fn: string, calls: unknown[][]): Promise<ProbeOutcome[]> {
  const script = path.join(build.dir, 'lab', 'container', 'probe.cjs');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, '--each', fn, JSON.stringify(calls)],
      { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const ending = (err as { killed?: boolean } | null)?.killed
          ? `did not return within ${PROBE_TIMEOUT_MS / 1000} s`
          : `crashed: ${(stderr || err?.message || 'no output').trim()}`;
        resolve(readProbeReplies(stdout ?? '', fn, calls.length, ending));
      },
    );
  });
}

/** Calls `fn` of `build` once: its result, or a rejection with what it threw (or how the probe ended). */
export async function probeOnce(build: StepBuild, fn: string, args: unknown[]): Promise<unknown> {
  const [outcome] = await probeEach(build, fn, [args]);
  if (outcome.ok) return outcome.result;
  throw outcome.error;
}

/**
 * Each call's outcome from the probe's output. The probe replies in call order, so the first call without a
 * reply is the one that ended the probe (`ending` says how); the calls after it never ran.
 */
export function readProbeReplies(stdout: string, fn: string, count: number, ending: string): ProbeOutcome[] {
  const replies: ProbeOutcome[] = [];
  for (const line of stdout.split('\n')) {
    const at = line.indexOf(REPLY_MARK);
    if (at < 0 || replies.length === count) continue;
    try {
      const reply = JSON.parse(line.slice(at + REPLY_MARK.length)) as { ok: boolean; result?: unknown; error?: string; name?: string };
      replies.push(reply.ok ? { ok: true, result: reply.result } : { ok: false, error: Object.assign(new Error(reply.error), { name: reply.name ?? 'Error' }) });
    } catch {
      break;
    }
  }
  const answered = replies.length;
  for (let i = answered; i < count; i++) {
    const why = i === answered ? `${fn}() ${ending}` : `${fn}() was not called: the call before it ended the probe`;
    replies.push({ ok: false, error: new Error(why) });
  }
  return replies;
}
