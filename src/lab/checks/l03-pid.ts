// Lesson 3: the PID namespace. The container's init is PID 1 of a namespace of its own (NSpid ends in 1,
// the pid link differs from the host's), and, until lesson 4 mounts a fresh one, the /proc it sees is the
// host's: it lists host processes, this lab among them. Then what a missing setns back breaks: the runtime
// built with the piece creates a container with a createRuntime hook, a process it starts AFTER the
// container's init, which must be born in the host's PID namespace.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { referenceBuild, runtimeExecutable } from '../step-build.js';
import { namespaceLink, readStatusField, visiblePids } from '../../linux/proc.js';
import { describeList, makeBundle, ownNamespace, pass, readText, requireContainer, verdict } from './common.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';

const SCRATCH_PREFIX = 'tslab-check3-';

/** The PID namespace of a createRuntime hook of a container made by the learner's runtime (`run` of `true`). */
function hookPidNamespace(ctx: CheckContext): { ns?: string; error?: string } {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), SCRATCH_PREFIX));
  const id = `tslab-check3-${process.pid}`;
  const root = path.join(scratch, 'state');
  const out = path.join(scratch, 'hook-pid-ns');
  try {
    makeBundle(path.join(scratch, 'bundle'), ['true'], (spec) => {
      spec.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `readlink /proc/self/ns/pid > ${out}`] }] };
    });
    const run = spawnSync(ctx.runtimePath, ['--root', root, 'run', '--bundle', path.join(scratch, 'bundle'), id], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      timeout: 30_000,
    });
    const ns = readText(out)?.trim();
    if (ns) return { ns };
    return { error: `no hook ran: run ${run.status === null ? 'timed out' : `exit status ${run.status}`}: ${(run.stderr ?? '').trim().split('\n').pop() ?? ''}` };
  } finally {
    // Whatever the learner's runtime left, the reference one removes.
    if (fs.existsSync(path.join(root, id))) spawnSync(runtimeExecutable(referenceBuild()), ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 20_000 });
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function laterChildResult(ctx: CheckContext): CheckResult {
  const host = namespaceLink('self', 'pid');
  const hook = hookPidNamespace(ctx);
  return verdict(
    "a process the runtime starts after the container's init (a createRuntime hook) is born in the host's PID namespace",
    hook.ns !== undefined && hook.ns === host,
    hook.ns !== undefined ? `the hook ran in ${hook.ns}${hook.ns === host ? " (the host's)" : `, not the host's ${host ?? '?'}`}` : (hook.error ?? '?'),
    `the hook in ${host ?? '?'}`,
    hook.ns !== undefined
      ? "after spawnChild(), setns(own, CLONE_NEWPID) back to the namespace opened from /proc/thread-self/ns/pid, in a finally: unshare(CLONE_NEWPID) changed where EVERY later child of this thread is born"
      : 'the runtime built with your piece could not run a container: read its error above',
  );
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const nspid = readStatusField(pid, 'NSpid')?.split(/\s+/) ?? [];
  const results = [
    verdict(
      'the container is PID 1 in its namespace',
      nspid.length >= 2 && nspid[nspid.length - 1] === '1',
      `NSpid: ${nspid.join(' ') || '?'}`,
      `NSpid: ${pid} 1`,
      nspid.length < 2
        ? 'its pid exists in one namespace only: the order is unshare(CLONE_NEWPID), then spawnChild(), and only then setns back (in a finally)'
        : 'the first child born in the new namespace gets pid 1: call spawnChild() right after unshare, once',
    ),
    ownNamespace(
      pid,
      'pid',
      'its PID namespace differs from the host',
      'unshare(CLONE_NEWPID) in spawnInNewPidNamespace, before spawnChild()',
    ),
  ];
  results.push(laterChildResult(ctx));
  const visible = visiblePids(pid);
  if (container.level > 3) {
    results.push(pass('its /proc still lists host processes', `the container runs at level ${container.level}: from lesson 4 on its /proc is its own`));
    return results;
  }
  // This lab process lives in the host's PID namespace only: a /proc that lists it is the host's.
  results.push(
    verdict(
      'its /proc still lists host processes (it is the host\'s /proc)',
      visible.includes(process.pid),
      `${describeList(visible)}; the lab itself (host pid ${process.pid}) ${visible.includes(process.pid) ? 'is' : 'is not'} among them`,
      `the host's pids, the lab's ${process.pid} among them`,
      "at lesson 3 nothing mounts a new proc: the container sees the host's /proc, which shows the PID namespace it was mounted from",
    ),
  );
  return results;
};
