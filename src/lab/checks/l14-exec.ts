// Lesson 14: exec. The learner's tslab-runtime creates and starts a container of its own (a fresh bundle, a
// private --root), then `exec`s a second program into it, in the foreground, with --pid-file. While that
// program runs, the check reads it from the host's /proc: its uts, ipc, net, mnt and pid namespace links are
// the init's (and not the host's), NSpid shows a second pid inside the container, and /proc/<pid>/cgroup is
// the init's, line for line. Whatever happens, the exec'd program, the container, its state and the scratch
// directory are removed (with the reference runtime if the learner's fails).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, namespaceLink, readProcStat, readStatusField } from '../../linux/proc.js';
import { within } from '../../linux/within.js';
import { referenceBuild, runtimeExecutable } from '../step-build.js';
import { errorText, fail, makeBundle, readText, verdict } from './common.js';
import { type RunResult, cmdline, collectOutput, outputFiles, newScratch, runRuntime, said } from './scratch-runtime.js';
import type { CheckResult, LessonCheck } from './types.js';

// One id per lab process: the id also names the container's cgroups, which concurrent runs must not share.
const ID = `tslab-check-exec-${process.pid}`;
const SCRATCH_PREFIX = 'tslab-check14-';
const INIT_PROGRAM = ['sleep', '1000'];
const EXEC_PROGRAM = ['sleep', '999'];
const EXEC_TIMEOUT_MS = 20_000;

const JOINED: Array<{ type: string; flag: string }> = [
  { type: 'uts', flag: 'CLONE_NEWUTS' },
  { type: 'ipc', flag: 'CLONE_NEWIPC' },
  { type: 'net', flag: 'CLONE_NEWNET' },
  { type: 'mnt', flag: 'CLONE_NEWNS' },
];

/** What to try when exec itself failed, from what it said. */
function hintForExecError(stderr: string): string {
  if (/is not written yet/.test(stderr)) return 'write the three functions of sandbox/steps/join-container.ts (the message above names the first one exec called)';
  if (/not born in the container's PID namespace/.test(stderr)) {
    return 'spawnInPidNamespace must setns(fd, CLONE_NEWPID) BEFORE it calls spawnChild(): the PID namespace only takes children born after the setns, never the caller';
  }
  if (/setns \/proc\/\d+\/ns\/mnt: EINVAL/.test(stderr)) {
    return "setns into the mount namespace fails with EINVAL while this thread shares its root and cwd with Node's other threads: call unshare(CLONE_FS) right before it (and pass CLONE_NEWNS)";
  }
  if (/setns \/proc\/\d+\/ns\/\w+: EINVAL/.test(stderr)) {
    return "EINVAL from setns: the nstype must be the CLONE_NEW* flag of the namespace the fd holds (uts CLONE_NEWUTS, ipc CLONE_NEWIPC, net CLONE_NEWNET, cgroup CLONE_NEWCGROUP, mnt CLONE_NEWNS)";
  }
  if (/(ENOENT|no such file)[^\n]*\/proc\/\d+\/ns\/|\/proc\/\d+\/ns\/[^\n]*(ENOENT|no such file)/i.test(stderr)) {
    return "open every /proc/<pid>/ns/<type> BEFORE the first setns, and join mnt last: once the mount namespace is joined, /proc is the container's, where the init's host pid names no process";
  }
  if (/cgroup\.procs/.test(stderr)) return 'joinCgroups writes the pid, as text, to <dir>/cgroup.procs of each directory: open it O_WRONLY | O_CLOEXEC (no O_CREAT), one write';
  return 'run the exec cell of this lesson with your runtime to see the whole error';
}

/** The differing lines of two /proc/<pid>/cgroup files, as "controllers: saw (expected)". */
function cgroupDifferences(saw: string, expected: string): string[] {
  const byHierarchy = (text: string) => new Map(text.split('\n').filter(Boolean).map((l) => [l.split(':').slice(0, 2).join(':'), l.split(':').slice(2).join(':')]));
  const a = byHierarchy(saw);
  const b = byHierarchy(expected);
  const differing: string[] = [];
  for (const [key, dir] of b) if (a.get(key) !== dir) differing.push(`${key.split(':')[1] || 'v2'} ${a.get(key) ?? '?'} (the init: ${dir})`);
  return differing;
}

interface Execed {
  child: ChildProcess;
  /** The exec'd program's host pid, once it runs EXEC_PROGRAM. */
  pid?: number;
  /** How exec ended, if it ended before the program ran. */
  failed?: RunResult;
}

/** Starts `exec --pid-file` in the foreground and waits until the program runs or exec ends. */
async function startExec(bin: string, root: string, scratch: string): Promise<Execed> {
  const pidFile = path.join(scratch, 'exec.pid');
  const files = outputFiles(scratch);
  const child = spawn(bin, ['--root', root, 'exec', '--pid-file', pidFile, ID, ...EXEC_PROGRAM], { stdio: ['ignore', ...files.fds] });
  files.fds.forEach((fd) => fs.closeSync(fd));
  let ended: RunResult | undefined;
  child.on('error', (err) => (ended = collectOutput(files, 127, err.message)));
  child.on('exit', (code) => (ended ??= collectOutput(files, code)));
  for (const deadline = Date.now() + EXEC_TIMEOUT_MS; Date.now() < deadline; await sleep(50)) {
    const pid = Number(readText(pidFile));
    if (Number.isInteger(pid) && pid > 0 && cmdline(pid) === EXEC_PROGRAM.join(' ')) return { child, pid };
    if (ended) return { child, failed: ended };
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  const late = ended ?? collectOutput(files, null);
  return { child, failed: { ...late, stderr: `${late.stderr} (no program after ${EXEC_TIMEOUT_MS / 1000} s, ended by the check)` } };
}

/** Ends the exec'd program (and so the foreground exec) and waits for exec to exit. */
async function endExec(execed: Execed): Promise<void> {
  const { child } = execed;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (const pid of [execed.pid, child.pid]) {
    try {
      if (pid) process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  await within(exited, 5000);
}

function namespaceResults(execPid: number, initPid: number): CheckResult[] {
  const results = JOINED.map(({ type, flag }) => {
    const saw = namespaceLink(execPid, type);
    const init = namespaceLink(initPid, type);
    const host = namespaceLink('self', type);
    return verdict(
      `the exec'd process is in the container's ${type} namespace`,
      saw !== undefined && saw === init && saw !== host,
      `${saw ?? 'unreadable'}${saw === host ? " (the host's)" : ''}`,
      `${init} (the init's; the host's is ${host})`,
      `joinNamespaces must open /proc/<pid>/ns/${type} (when it is not ours) and setns(fd, ${flag})`,
    );
  });
  const pidNs = namespaceLink(execPid, 'pid');
  const initPidNs = namespaceLink(initPid, 'pid');
  const nspid = readStatusField(execPid, 'NSpid')?.split(/\s+/) ?? [];
  results.push(
    verdict(
      "the exec'd process is in the container's PID namespace (NSpid shows its pid inside)",
      pidNs === initPidNs && pidNs !== namespaceLink('self', 'pid') && nspid.length === 2,
      `${pidNs ?? 'unreadable'}, NSpid ${nspid.join(' ') || '?'}`,
      `${initPidNs} (the init's), NSpid ${execPid} and a small pid inside`,
      'spawnInPidNamespace must setns(fd of /proc/<pid>/ns/pid, CLONE_NEWPID) and then call spawnChild(): only a child born after the setns is in the container',
    ),
  );
  return results;
}

function cgroupResult(execPid: number, initPid: number): CheckResult {
  const saw = readText(`/proc/${execPid}/cgroup`) ?? '';
  const init = readText(`/proc/${initPid}/cgroup`) ?? '';
  const host = readText('/proc/self/cgroup') ?? '';
  const differing = cgroupDifferences(saw, init);
  return verdict(
    "the exec'd process is in the container's cgroups, in every hierarchy",
    saw !== '' && differing.length === 0 && saw !== host,
    differing.length ? `${differing.length} hierarchies differ: ${differing.slice(0, 3).join('; ')}${differing.length > 3 ? '; ...' : ''}` : saw === host ? "the host's cgroups" : 'the same lines as the init',
    "/proc/<pid>/cgroup the same as the init's, line for line",
    'joinCgroups(dirs, pid) must write pid into <dir>/cgroup.procs of EVERY directory it is given (one per hierarchy), and the pid it is given, not its own',
  );
}

export const check: LessonCheck = async (ctx) => {
  const bin = ctx.runtimePath;
  const { dir: scratch, bundle, root } = await newScratch(SCRATCH_PREFIX);
  const rt = (args: string[]) => runRuntime(bin, root, scratch, args);
  let execed: Execed | undefined;
  let initPid = 0;
  let initStart: number | undefined;
  try {
    try {
      makeBundle(bundle, INIT_PROGRAM);
    } catch (err) {
      return [fail('a bundle for the check', errorText(err), 'config.json and a busybox rootfs', 'is a static busybox installed? (apt-get install busybox-static)')];
    }
    const created = await rt(['create', '--bundle', bundle, ID]);
    const started = created.code === 0 ? await rt(['start', ID]) : created;
    try {
      initPid = (JSON.parse((await rt(['state', ID])).stdout) as { pid?: number }).pid ?? 0;
    } catch {
      initPid = 0;
    }
    initStart = initPid > 0 ? readProcStat(initPid)?.startTime : undefined;
    if (started.code !== 0 || initStart === undefined || !isAlive(initPid, initStart)) {
      return [
        fail(
          'a running container to exec into',
          created.code !== 0 ? `create ${said(created)}` : `start ${said(started)}`,
          'create and start succeed, the init runs',
          'create and start run your steps of lessons 1-9 and the reference for the rest: run `"$TSLAB_RUNTIME" --root /tmp/r create --bundle DIR x` in a host cell and read its error',
        ),
      ];
    }
    execed = await startExec(bin, root, scratch);
    if (execed.failed || !execed.pid) {
      const r = execed.failed!;
      return [
        fail(
          `exec runs "${EXEC_PROGRAM.join(' ')}" in the container`,
          `exec ${said(r)}`,
          'the program running, its pid in --pid-file',
          hintForExecError(r.stderr),
        ),
      ];
    }
    return [...namespaceResults(execed.pid, initPid), cgroupResult(execed.pid, initPid)];
  } catch (err) {
    return [fail('the exec check ran to its end', errorText(err), 'no error', 'run the cells of this lesson to see where it stops')];
  } finally {
    if (execed) await endExec(execed);
    // Whatever happened: the reference runtime removes what is left (state, cgroups, a live init).
    if (fs.existsSync(path.join(root, ID))) {
      await runRuntime(runtimeExecutable(referenceBuild()), root, scratch, ['delete', '--force', ID]).catch(() => undefined);
    }
    if (initPid > 0 && initStart !== undefined && isAlive(initPid, initStart)) {
      try {
        process.kill(initPid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    fs.rmSync(scratch, { recursive: true, force: true });
  }
};
