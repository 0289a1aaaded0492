// Lesson 7: cgroups. The container's /proc/<pid>/cgroup names the lesson cgroup in every hierarchy the lab
// made; the memory limit file (v1 or v2 name) reads 48 MiB and pids.max 32; a 96 MiB dd in the container is OOM-killed (exit 137) and the
// cgroup's oom_kill counter goes up; a fork loop fails and leaves pids.current at or below 32; a busy loop
// raises cpu.stat's nr_throttled. v1, v2 and hybrid: each file is looked for in every directory of the
// container's cgroups, v2 names first. What the check starts in the container it ends itself (SIGKILL from
// the host, found by command line in the container's cgroups, where container cells are placed) once the
// kernel has shown what it waits for, rather than waiting out fixed times.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseProcCgroup } from '../../linux/proc.js';
import { LESSON_LIMITS } from '../lesson-container.js';
import { readText, requireContainer, verdict } from './common.js';
import { cmdline } from './scratch-runtime.js';
import type { CheckContext, CheckResult } from './types.js';
import type { LessonCheck } from './types.js';

/** The first existing file among `names`, looked for in each directory. */
function findFile(dirs: string[], names: string[]): string | undefined {
  for (const name of names) {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      if (fs.existsSync(file)) return file;
    }
  }
  return undefined;
}

/** A "key value" line of a flat-keyed cgroup file (memory.events, memory.oom_control, cpu.stat, pids.events). */
function keyedValue(file: string | undefined, key: string): number | undefined {
  if (!file) return undefined;
  const line = readText(file)
    ?.split('\n')
    .find((l) => l.startsWith(`${key} `));
  return line === undefined ? undefined : Number(line.slice(key.length + 1).trim());
}

function readNumber(file: string | undefined): string {
  return file ? (readText(file)?.trim() ?? '?') : '?';
}

/** Polls `test` every 50 ms until it holds or `timeoutMs` has passed; whether it held. */
async function until(test: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(50)) {
    if (test()) return true;
    if (Date.now() > deadline) return false;
  }
}

/** SIGKILLs the processes of the container's cgroups whose command line is `command`; how many. */
function killInCgroups(dirs: string[], command: string): number {
  const pids = new Set(dirs.flatMap((dir) => (readText(path.join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number)));
  let killed = 0;
  for (const pid of pids) {
    if (cmdline(pid) !== command) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // Exited meanwhile.
    }
  }
  return killed;
}

const NOT_IN_CGROUPS = 'the container was started without cgroups: run the enable cell of this lesson';

/** The memory limit and pids.max the lab wrote. */
function limitResults(dirs: string[]): CheckResult[] {
  const results: CheckResult[] = [];
  const memLimitFile = findFile(dirs, ['memory.max', 'memory.limit_in_bytes']);
  const memLimit = readNumber(memLimitFile);
  results.push(
    verdict(
      'the memory limit is 48 MiB',
      memLimit === String(LESSON_LIMITS.memoryBytes),
      memLimitFile ? `${memLimitFile}: ${memLimit}` : 'no memory.max or memory.limit_in_bytes in the container\'s cgroups',
      `${LESSON_LIMITS.memoryBytes} (48 MiB)`,
      memLimitFile?.endsWith('memory.limit_in_bytes')
        ? 'setLimits must write the memory limit: cgroup v1 names the file memory.limit_in_bytes (memory.max is v2\'s name, absent here)'
        : 'setLimits must write the memory limit: cgroup v2 names the file memory.max (memory.limit_in_bytes is v1\'s name, absent here)',
    ),
  );
  const pidsMax = readNumber(findFile(dirs, ['pids.max']));
  results.push(
    verdict(
      `pids.max is ${LESSON_LIMITS.pids}`,
      pidsMax === String(LESSON_LIMITS.pids),
      `pids.max: ${pidsMax}`,
      String(LESSON_LIMITS.pids),
      'setLimits must write pids.max (the same name in v1 and v2) in the directory that has it',
    ),
  );
  return results;
}

/** An allocation above the limit is OOM-killed, and the kernel counts it. */
async function oomResult(ctx: CheckContext, dirs: string[]): Promise<CheckResult> {
  const oomFile = findFile(dirs, ['memory.events', 'memory.oom_control']);
  const oomBefore = keyedValue(oomFile, 'oom_kill');
  const dd = await ctx.inContainer('dd if=/dev/zero of=/dev/null bs=96M count=1', 30_000);
  const oomAfter = keyedValue(oomFile, 'oom_kill');
  const counted = oomBefore !== undefined && oomAfter !== undefined && oomAfter > oomBefore;
  return verdict(
    'a 96 MiB dd in the container is OOM-killed (exit 137) and oom_kill goes up',
    dd.code === 137 && counted,
    `dd exit status ${dd.code}; ${oomFile ? `${path.basename(oomFile)} oom_kill ${oomBefore ?? '?'} -> ${oomAfter ?? '?'}` : 'no oom_kill counter found'}`,
    'exit status 137 and oom_kill one higher',
    dd.code === 0
      ? 'dd got its 96 MiB: the memory limit does not apply (is swap absorbing it? is the limit file written?); run the enable cell again'
      : 'exit 137 is SIGKILL from the OOM killer; another status means dd failed for a different reason: run `dd if=/dev/zero of=/dev/null bs=96M count=1` in a container cell and read its error',
  );
}

/** The busy loop of throttleResult: the container cell's own shell spins until the check kills it. */
const BUSY_LOOP = 'while :; do :; done';

/** CPU: a busy loop is throttled by the 20 ms / 100 ms quota, within its first period or two. */
async function throttleResult(ctx: CheckContext, dirs: string[]): Promise<CheckResult> {
  const quotaV2 = findFile(dirs, ['cpu.max']);
  const quotaV1 = findFile(dirs, ['cpu.cfs_quota_us']);
  const cpuDir = path.dirname(quotaV2 ?? quotaV1 ?? '');
  const cpuStat = quotaV2 || quotaV1 ? path.join(cpuDir, 'cpu.stat') : undefined;
  const quota = quotaV2
    ? readNumber(quotaV2)
    : quotaV1
      ? `${readNumber(quotaV1)} ${readNumber(path.join(cpuDir, 'cpu.cfs_period_us'))}`
      : '?';
  const throttledBefore = keyedValue(cpuStat, 'nr_throttled');
  let ended = false;
  const loop = ctx.inContainer(BUSY_LOOP, 15_000).finally(() => (ended = true));
  // Throttled in its first 100 ms period once it has run 20 ms: 3 s is a wide margin on a loaded machine.
  if (throttledBefore !== undefined) await until(() => ended || (keyedValue(cpuStat, 'nr_throttled') ?? 0) > throttledBefore, 3000);
  const throttledAfter = keyedValue(cpuStat, 'nr_throttled');
  await until(() => ended || killInCgroups(dirs, `/bin/sh -c ${BUSY_LOOP}`) > 0, 5000);
  await loop;
  return verdict(
    'a busy loop in the container is throttled (cpu.stat nr_throttled goes up)',
    throttledBefore !== undefined && throttledAfter !== undefined && throttledAfter > throttledBefore,
    cpuStat ? `cpu quota "${quota}"; nr_throttled ${throttledBefore ?? '?'} -> ${throttledAfter ?? '?'}` : 'no cpu.max or cpu.cfs_quota_us in the container\'s cgroups',
    `quota "${LESSON_LIMITS.cpuQuotaUs} ${LESSON_LIMITS.cpuPeriodUs}" and nr_throttled higher after the loop`,
    'setLimits must write the cpu quota: v2 cpu.max "QUOTA PERIOD", v1 cpu.cfs_period_us then cpu.cfs_quota_us',
  );
}

/** The fork loop's children: long enough to be alive when pids.current is read on a slow machine; the check kills them. */
const FORKED = 'sleep 10';

/** Processes: a fork loop is stopped at pids.max. Last, as its sleeps hold the cgroup full until they are killed. */
async function forkLoopResult(ctx: CheckContext, dirs: string[]): Promise<CheckResult> {
  const pidsMaxFile = findFile(dirs, ['pids.max']);
  const pidsDir = pidsMaxFile ? path.dirname(pidsMaxFile) : undefined;
  const pidsCurrentFile = pidsDir ? path.join(pidsDir, 'pids.current') : undefined;
  const pidsEvents = pidsDir ? path.join(pidsDir, 'pids.events') : undefined;
  const refusedBefore = keyedValue(pidsEvents, 'max');
  // The sleeps must not hold the command's output pipes, or the command would only return once they end.
  const loop = await ctx.inContainer(`i=0; while [ $i -lt 100 ]; do ${FORKED} </dev/null >/dev/null 2>&1 & i=$((i+1)); done`, 20_000);
  const peak = Number(readNumber(pidsCurrentFile));
  const refusedAfter = keyedValue(pidsEvents, 'max');
  // The kernel counts refused forks in pids.events ("max N"); without that file, a full cgroup is the evidence.
  const refused = refusedBefore !== undefined && refusedAfter !== undefined ? refusedAfter > refusedBefore : peak >= LESSON_LIMITS.pids - 4;
  const result = verdict(
    'a fork loop in the container fails at 32 tasks (pids.current ≤ 32)',
    loop.code !== 0 && refused && Number.isFinite(peak) && peak <= LESSON_LIMITS.pids,
    pidsMaxFile
      ? `pids.max ${readNumber(pidsMaxFile)}; the loop ${loop.code === 0 ? 'started all 100 sleeps' : `stopped (exit status ${loop.code})`}; pids.current ${Number.isFinite(peak) ? peak : '?'}${refusedAfter !== undefined ? `; refused forks (pids.events max) ${refusedBefore} -> ${refusedAfter}` : ''}`
      : 'no pids.max in the container\'s cgroups',
    `pids.max ${LESSON_LIMITS.pids}, a loop stopped by a refused fork, pids.current ≤ ${LESSON_LIMITS.pids}`,
    loop.code === 125
      ? 'the command could not enter the container: is it still running? run the enable cell of this lesson again'
      : 'setLimits must write pids.max, and container cells are placed in the cgroups joinCgroup joined: run the enable cell of this lesson again',
  );
  // Room in the cgroup for whatever comes next: the sleeps killed, then reaped by the container's init.
  killInCgroups(dirs, FORKED);
  await until(() => !(Number(readNumber(pidsCurrentFile)) > 4), 4000);
  return result;
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const dirs = [...new Set([...container.cgroupDirs, ...Object.values(container.cgroupPaths)])];
  const results: CheckResult[] = [];

  // 1. Membership, from the kernel's own list: in each hierarchy the lab made a cgroup in, the container's line
  // of /proc/<pid>/cgroup must name that cgroup.
  const lines = parseProcCgroup(readText(`/proc/${pid}/cgroup`) ?? '');
  const suffix = `/tslab-lab/lesson-${container.level}`;
  const lineFor = (key: string) =>
    lines.find((l) => (key === 'unified' ? l.controllers.length === 0 : [...l.controllers].sort().join() === key.split(',').sort().join()));
  const hierarchies = Object.entries(container.cgroupPaths);
  const outside = hierarchies.filter(([key, dir]) => {
    const line = lineFor(key);
    return !line || !line.path.endsWith(suffix) || !dir.endsWith(line.path);
  });
  results.push(
    verdict(
      `/proc/${pid}/cgroup names the lesson cgroup (…${suffix})`,
      hierarchies.length > 0 && outside.length === 0,
      hierarchies.length === 0
        ? 'the container has no cgroups'
        : outside.length === 0
          ? `all ${hierarchies.length} hierarchies`
          : `outside it in ${outside.length} of ${hierarchies.length}: ${outside
              .slice(0, 4)
              .map(([key]) => `${key}:${lineFor(key)?.path ?? '(no line)'}`)
              .join('  ')}`,
      `…${suffix} in each of ${hierarchies.length} hierarchies`,
      hierarchies.length === 0
        ? NOT_IN_CGROUPS
        : "joinCgroup(dir, pid) must write its `pid` argument (as text, one write; not process.pid, the launcher's own) into cgroup.procs of `dir` itself (not its parent); the launcher calls it for each directory createCgroup made",
    ),
  );
  if (dirs.length === 0) return results;

  results.push(...limitResults(dirs));

  // The remaining checks run commands in the container: it must be reachable.
  const probe = await ctx.inContainer('true', 10_000);
  if (probe.code !== 0) {
    results.push(
      verdict(
        'a command runs inside the container',
        false,
        `exit status ${probe.code}: ${probe.stderr.trim() || 'no message'}`,
        'exit status 0',
        'the lesson container may have ended: run the enable cell of this lesson again',
      ),
    );
    return results;
  }

  results.push(await oomResult(ctx, dirs));
  results.push(await throttleResult(ctx, dirs));
  results.push(await forkLoopResult(ctx, dirs));
  return results;
};
