// Lesson 9: the OCI lifecycle, driven through the learner's tslab-runtime (runc's command line) on a fresh
// bundle with a private --root. Each stage is judged by kernel and filesystem state, not by what the
// runtime prints: after create the init is alive, sleeping, not yet the program, and exec.fifo is a FIFO in
// the state directory; after start the FIFO is gone and the same pid runs the program; after kill SIGKILL
// `state` says stopped; after delete the state directory and the process are gone. Last, a second container
// whose init is killed while `start` waits for its byte: start must fail, not wait forever. A `start` seen
// blocked in open(2) of the FIFO is ended at once: the init opens its end only after that open returns, so
// it never will. Whatever happens, the bundle, the state and any process or cgroup are removed (with the
// reference runtime if the learner's fails).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStat } from '../../linux/proc.js';
import { referenceBuild, runtimeExecutable } from '../step-build.js';
import { errorText, fail, makeBundle, readText, verdict } from './common.js';
import { type RunResult, cmdline, newScratch, runRuntime, said } from './scratch-runtime.js';
import type { CheckResult, LessonCheck } from './types.js';

// One id per lab process: the id also names the container's cgroups, which concurrent runs must not share.
const ID = `tslab-check-lifecycle-${process.pid}`;
const DEAD_ID = `${ID}-dead`;
const PROGRAM = ['sleep', '1000'];
/**
 * How long `start` may go on after the init it waits for was killed before it counts as hanging: a releaseInit
 * that asks initAlive() between 1 ms polls fails within milliseconds; the rest is margin for a loaded machine.
 */
const DEAD_START_TIMEOUT_MS = 4000;
/** The init dies once `start` is seen holding the FIFO open, or this long after `start` began (it may open it anew for each read). */
const INIT_DIES_AFTER_MS = 3000;

function status(r: RunResult): string | undefined {
  try {
    return (JSON.parse(r.stdout) as { status?: string }).status;
  } catch {
    return undefined;
  }
}

function alive(pid: number, startTime: number | undefined): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

type Rt = (args: string[], timeoutMs?: number, watch?: (pid: number) => string | undefined) => Promise<RunResult>;

async function until(test: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await test()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

const SCRATCH_PREFIX = 'tslab-check9-';

/**
 * Why process `pid` will never return, if a thread of it sleeps in open(2) of a FIFO (the kernel's
 * wait_for_partner, inlined as fifo_open on some kernels): the open waits for a writer, and the init
 * writes only once it is told of the reader's open, which the kernel reports when the open returns.
 */
function blockedInFifoOpen(pid: number): string | undefined {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined; // gone meanwhile
  }
  for (const tid of tids) {
    const wchan = readText(`/proc/${pid}/task/${tid}/wchan`);
    if (wchan === 'wait_for_partner' || wchan === 'fifo_open') return `thread ${tid} blocked in open() of the FIFO (kernel ${wchan}), waiting for a writer`;
  }
  return undefined;
}

/** Whether process `pid` has `file` open. */
function holdsOpen(pid: number, file: string): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return false; // gone meanwhile
  }
}

/**
 * create, SIGSTOP the init, start, and SIGKILL the init once start holds the FIFO open, waiting for its byte:
 * start must fail within DEAD_START_TIMEOUT_MS. The init dies during releaseInit (a stopped init never
 * writes), so the piece itself must notice: killed before start, the runtime would refuse without calling it.
 */
async function deadInitResult(rt: Rt, bundle: string, fifo: string): Promise<CheckResult> {
  const name = 'start of a container whose init dies while start waits fails at once (it does not wait forever)';
  const created = await rt(['create', '--bundle', bundle, DEAD_ID]);
  let deadPid = 0;
  try {
    deadPid = (JSON.parse((await rt(['state', DEAD_ID])).stdout) as { pid?: number }).pid ?? 0;
  } catch {
    deadPid = 0;
  }
  const deadStart = deadPid > 0 ? readProcStat(deadPid)?.startTime : undefined;
  if (created.code !== 0 || deadStart === undefined) {
    return fail(name, `create ${said(created)}`, 'a created container', 'create runs the runtime with your steps of lessons 1-8: fix what the stages above say first');
  }
  process.kill(deadPid, 'SIGSTOP');
  const begun = Date.now();
  let killedAt: number | undefined;
  const started = await rt(['start', DEAD_ID], 20_000, (startPid) => {
    if (killedAt === undefined && (holdsOpen(startPid, fifo) || Date.now() - begun > INIT_DIES_AFTER_MS)) {
      try {
        if (alive(deadPid, deadStart)) process.kill(deadPid, 'SIGKILL');
      } catch {
        // Gone meanwhile: dead either way.
      }
      killedAt = Date.now();
    }
    if (killedAt !== undefined && Date.now() - killedAt > DEAD_START_TIMEOUT_MS) return `still waiting ${DEAD_START_TIMEOUT_MS / 1000} s after the init was killed`;
    return blockedInFifoOpen(startPid);
  });
  const hung = started.code === null;
  return verdict(
    name,
    !hung && started.code !== 0,
    started.code === 0
      ? `start exit status 0, though the init never wrote its byte (it was stopped${killedAt === undefined ? '' : ', then killed'})`
      : `start ${said(started)}`,
    "a non-zero exit status at once, e.g. 'cannot start a container that has stopped'",
    hung
      ? 'releaseInit must open the FIFO with O_NONBLOCK (a blocking open waits for a writer that will never come) and, while no byte has come, check initAlive() and throw when it is false'
      : "releaseInit must not report success without the init's byte: read until one byte comes, and throw when initAlive() turns false",
  );
}

/** create: the init alive and waiting on exec.fifo, status "created". */
async function createResult(rt: Rt, bundle: string, fifo: string): Promise<{ result: CheckResult; code: number | null; pid: number; startTime: number | undefined }> {
  const created = await rt(['create', '--bundle', bundle, ID]);
  const st1 = await rt(['state', ID]);
  let pid: number;
  try {
    pid = (JSON.parse(st1.stdout) as { pid?: number }).pid ?? 0;
  } catch {
    pid = 0;
  }
  const startTime = pid > 0 ? readProcStat(pid)?.startTime : undefined;
  const procState = pid > 0 ? readProcStat(pid)?.state : undefined;
  const initCmd = pid > 0 ? cmdline(pid) : '';
  const isFifo = fs.existsSync(fifo) && fs.statSync(fifo).isFIFO();
  const waiting = alive(pid, startTime) && procState === 'S' && !initCmd.startsWith(PROGRAM[0]);
  const result = verdict(
    'create: status "created", the init alive and waiting, exec.fifo in the state directory',
    created.code === 0 && status(st1) === 'created' && waiting && isFifo,
    created.code !== 0
      ? `create ${said(created)}`
      : `status ${status(st1) ?? `? (state ${said(st1)})`}; init ${pid || '?'} ${alive(pid, startTime) ? `state ${procState}, running "${initCmd.slice(0, 60)}"` : 'not alive'}; exec.fifo ${isFifo ? 'is a FIFO' : fs.existsSync(fifo) ? 'is not a FIFO' : 'missing'}`,
    'created; a sleeping init that is not yet "sleep 1000"; a FIFO at <root>/<id>/exec.fifo',
    'create runs the runtime with your steps of lessons 1-8: run `"$TSLAB_RUNTIME" --root /tmp/r create --bundle DIR x` in a host cell and read its error',
  );
  return { result, code: created.code, pid, startTime };
}

/** start: the byte read from exec.fifo releases the init, which execs the program. */
async function startResult(rt: Rt, pid: number, fifo: string): Promise<CheckResult> {
  const started = await rt(['start', ID], 15_000, blockedInFifoOpen);
  // After a failed start the program is not expected: no wait for it.
  const execed = started.code === 0 ? await until(() => cmdline(pid) === PROGRAM.join(' '), 3000) : cmdline(pid) === PROGRAM.join(' ');
  const st2 = await rt(['state', ID]);
  const fifoGone = !fs.existsSync(fifo);
  return verdict(
    'start: exec.fifo removed, the same pid runs the program, status "running"',
    started.code === 0 && fifoGone && execed && status(st2) === 'running',
    `start ${said(started)}; exec.fifo ${fifoGone ? 'gone' : 'still there'}; pid ${pid} runs "${cmdline(pid) || '(nothing)'}"; status ${status(st2) ?? '?'}`,
    `exit status 0; no exec.fifo; "${PROGRAM.join(' ')}"; running`,
    started.code === null
      ? 'start hung: open the FIFO O_RDONLY|O_NONBLOCK. A blocking open waits for a writer, and the init opens its end only once your open has returned (it watches the FIFO with inotify), so neither moves'
      : started.code !== 0
      ? 'start calls your releaseInit(fifo, initAlive): open the FIFO O_RDONLY|O_NONBLOCK, read until one byte comes (read gives 0 or throws EAGAIN until then: pollReadable(fd, 1) and retry), close'
      : !fifoGone
        ? 'after the byte is read, releaseInit must unlink(fifo): while it exists the status stays "created"'
        : 'the init did not run the program after its byte was read: did releaseInit read the byte (not just open the FIFO)?',
  );
}

async function killResult(rt: Rt, pid: number, startTime: number | undefined): Promise<CheckResult> {
  const killed = await rt(['kill', ID, 'KILL']);
  let st3: RunResult = { code: null, stdout: '', stderr: '' };
  await until(async () => {
    st3 = await rt(['state', ID]);
    return status(st3) === 'stopped';
  }, 5000);
  return verdict(
    'kill SIGKILL: status "stopped"',
    killed.code === 0 && status(st3) === 'stopped' && !alive(pid, startTime),
    `kill ${said(killed)}; status ${status(st3) ?? `? (${said(st3)})`}; init ${alive(pid, startTime) ? 'alive' : 'gone'}`,
    'exit status 0; stopped; the init gone',
    'kill and state are the reference code: if start failed above, fix that first',
  );
}

async function deleteResult(rt: Rt, stateDir: string, pid: number, startTime: number | undefined): Promise<CheckResult> {
  const deleted = await rt(['delete', ID]);
  const gone = await until(() => !fs.existsSync(stateDir) && !alive(pid, startTime), 3000);
  return verdict(
    'delete: the state directory and the process are gone',
    deleted.code === 0 && gone,
    `delete ${said(deleted)}; state directory ${fs.existsSync(stateDir) ? 'still there' : 'gone'}; process ${alive(pid, startTime) ? 'alive' : 'gone'}`,
    'exit status 0; no state directory; no process',
    'delete is the reference code: if an earlier stage failed, fix that first',
  );
}

export const check: LessonCheck = async (ctx) => {
  const bin = ctx.runtimePath;
  const { dir: scratch, bundle, root } = await newScratch(SCRATCH_PREFIX);
  const stateDir = path.join(root, ID);
  const fifo = path.join(stateDir, 'exec.fifo');
  const rt: Rt = (args, timeoutMs, watch) => runRuntime(bin, root, scratch, args, timeoutMs, watch);
  const results: CheckResult[] = [];
  let pid = 0;
  let startTime: number | undefined;
  try {
    try {
      makeBundle(bundle, PROGRAM);
    } catch (err) {
      return [fail('a bundle for the check', errorText(err), 'config.json and a busybox rootfs', 'is a static busybox installed? (apt-get install busybox-static)')];
    }

    const created = await createResult(rt, bundle, fifo);
    ({ pid, startTime } = created);
    results.push(created.result);
    if (created.code !== 0 || !alive(pid, startTime)) return results;

    results.push(await startResult(rt, pid, fifo));
    results.push(await killResult(rt, pid, startTime));
    results.push(await deleteResult(rt, stateDir, pid, startTime));
    results.push(await deadInitResult(rt, bundle, path.join(root, DEAD_ID, 'exec.fifo')));
    return results;
  } catch (err) {
    results.push(fail('the lifecycle ran to its end', errorText(err), 'no error', 'run the cells of this lesson to see where it stops'));
    return results;
  } finally {
    // Whatever happened: the reference runtime removes what is left (state, cgroups, a live init).
    for (const id of [ID, DEAD_ID].filter((i) => fs.existsSync(path.join(root, i)))) {
      await runRuntime(runtimeExecutable(referenceBuild()), root, scratch, ['delete', '--force', id], 20_000).catch(() => undefined);
    }
    if (pid > 0 && alive(pid, startTime)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    fs.rmSync(scratch, { recursive: true, force: true });
  }
};
