// Starting the PID-1 stage: a Node process born in the container's PID namespace, with the fds it needs.
// Its start-up is the largest single cost of a container start, so `create` and `run` launch it as early
// as they can (from the raw config.json) and prepare everything else while it boots.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOSE_RANGE_CLOEXEC, close, closeRange } from '../../linux/fs.js';
import { withNamespaceAt } from '../../linux/join-namespace.js';
import { connectUnix, socketpair } from '../../linux/socket.js';
import { RuntimeError } from '../runtime-error.js';
import { hasUserNamespace, spawnInUserNamespace } from './launch-userns.js';
import type { Spec } from '../spec/types.js';
import { type JournalProcess, type StateStore, journalProcess } from '../state/store.js';
import { spawnInNewPidNamespace } from '../steps/pid-namespace.js';
import { within } from '../../linux/within.js';

const REAP_TIMEOUT_MS = 5000;
/** The early launch reads config.json before validation: anything larger waits for the validated path. */
const EARLY_CONFIG_MAX_BYTES = 1024 * 1024;

export interface LaunchOptions {
  preserveFds?: number;
  /** Where to send the pty master of a terminal container (runc's --console-socket). */
  consoleSocket?: string;
  /** The caller relays the terminal itself (a foreground `run`): keep the pty master. */
  keepTerminal?: boolean;
  /** The container's stdin, stdout and stderr: ours unless a caller running us in-process says otherwise. */
  stdio?: [number, number, number];
}

/** The fds that carry a terminal's pty master from the stage, through us, to whoever shows it. */
export interface TerminalRoute {
  ours: number;
  consoleSocket?: number;
  master?: number;
}

export interface LaunchedStage {
  child: ChildProcess;
  /** fd number of the orchestrator's channel in child.stdio. */
  channelFd: number;
  terminal?: TerminalRoute;
  /** What claimAndLaunchEarly wrote to the create's journal for it, so create need not write it again. */
  journaled?: JournalProcess;
  /** The spec it was launched from: create checks the validated one still asks for the same. */
  launchedFor: { pidNamespace: string; terminal: boolean; userNamespace: boolean };
}

/**
 * The built PID-1 stage: the one bundled alongside this code (dist/cli/runtime.cjs -> dist/runtime/init/stage.cjs,
 * and the same layout for a lab build made with the learner's steps), else the package's dist/ (unbundled code).
 */
function stageScript(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(dir, '..', 'runtime', 'init', 'stage.cjs');
  if (fs.existsSync(sibling)) return sibling;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    if (path.dirname(dir) === dir) throw new RuntimeError(`cannot find the tslab package around ${import.meta.url}`);
    dir = path.dirname(dir);
  }
  return path.join(dir, 'dist', 'runtime', 'init', 'stage.cjs');
}

/**
 * The stage's command line: through the package's code-cache loader (bin/cached-require.cjs) when the stage is
 * the package's own build (<package>/dist/runtime/init/stage.cjs), else the bundle alone (a learner's build).
 */
function stageArgs(): string[] {
  const stage = stageScript();
  const loader = path.join(path.dirname(stage), '..', '..', '..', 'bin', 'cached-require.cjs');
  return fs.existsSync(loader) ? [loader, stage] : [stage];
}

function wantsTerminal(spec: Spec, opts: LaunchOptions): boolean {
  const terminal = spec.process?.terminal === true;
  if (opts.consoleSocket && (!terminal || opts.keepTerminal)) {
    throw new RuntimeError('cannot use a console socket unless the container has a terminal (process.terminal) and the runtime detaches (create, run --detach)');
  }
  if (terminal && !opts.consoleSocket && !opts.keepTerminal) {
    throw new RuntimeError('process.terminal is true: pass --console-socket to receive the terminal, or use `run` without --detach');
  }
  return terminal;
}

export function closeTerminalRoute(route: TerminalRoute | undefined, keepMaster: boolean): void {
  if (!route) return;
  for (const fd of [route.ours, route.consoleSocket, keepMaster ? undefined : route.master]) {
    if (fd !== undefined && fd >= 0) close(fd);
  }
}

function pidNamespaceOf(spec: Spec): string {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'pid');
  return ns ? (ns.path ?? 'new') : 'host';
}

/** Spawns from the calling thread after moving it into the container's PID namespace, then moves it back. */
function spawnInPidNamespace(pidNamespace: string, stdio: Array<number | 'pipe' | 'ignore'>, preserveFds: number): ChildProcess {
  const spawnStage = () =>
    spawn(process.execPath, stageArgs(), {
      stdio,
      detached: true,
      env: { TSLAB_PRESERVE_FDS: String(preserveFds) },
    });
  if (pidNamespace === 'host') return spawnStage();
  if (pidNamespace === 'new') return spawnInNewPidNamespace(spawnStage);
  // Join an existing PID namespace by path: the same dance with setns in place of unshare.
  return withNamespaceAt(pidNamespace, 'pid', spawnStage);
}

export function launchStage(spec: Spec, opts: LaunchOptions): LaunchedStage {
  const preserveFds = opts.preserveFds ?? 0;
  const terminal = wantsTerminal(spec, opts);
  const pidNamespace = pidNamespaceOf(spec);
  let route: TerminalRoute | undefined;
  let stagesEnd = -1;
  try {
    if (terminal) {
      const consoleSocket = opts.consoleSocket ? connectUnix(opts.consoleSocket) : undefined;
      const [ours, stages] = socketpair();
      route = { ours, consoleSocket };
      stagesEnd = stages;
    }
    // Only what the caller asked to pass reaches the stage: an fd it inherited without close-on-exec (an
    // engine's pipe, a socket) would otherwise be in the container's init, where nothing expects it.
    closeRange(3 + preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    const passed = Array.from({ length: preserveFds }, (_, i) => 3 + i);
    // A terminal container's stdio is its pty, made by the stage; until start the stage holds /dev/null, as
    // runc's init does. Holding ours instead kept an engine's pipe open after create had exited: containerd's
    // shim reads create's output to EOF before it answers, so `ctr run -t` never reached start.
    const stdio: Array<number | 'pipe' | 'ignore'> = [...(terminal ? (['ignore', 'ignore', 'ignore'] as const) : (opts.stdio ?? [0, 1, 2])), ...passed, 'pipe', ...(terminal ? [stagesEnd] : [])];
    const userNamespace = hasUserNamespace(spec);
    const child = userNamespace
      ? spawnInUserNamespace(spec, pidNamespace, stageScript(), stdio, { TSLAB_PRESERVE_FDS: String(preserveFds) })
      : spawnInPidNamespace(pidNamespace, stdio, preserveFds);
    return { child, channelFd: 3 + preserveFds, terminal: route, launchedFor: { pidNamespace, terminal, userNamespace } };
  } catch (err) {
    closeTerminalRoute(route, false);
    throw err;
  } finally {
    if (stagesEnd >= 0) close(stagesEnd);
  }
}

/** An id claimed before create proper began, and maybe the stage launched for it. */
export interface EarlyClaim {
  /** Releases the lock on the id's state directory. */
  release: () => void;
  launched?: LaunchedStage;
}

/**
 * Claims the id, launches the stage from config.json as it is on disk, and journals the stage at once: from
 * its first instant a stage can be found (and killed) by delete --force. Should we die between its birth
 * and that write, the stage ends by itself, as its channel to us closes.
 */
export function claimAndLaunchEarly(store: StateStore, id: string, bundle: string, opts: LaunchOptions): EarlyClaim {
  const release = store.claim(id);
  const launched = launchStageEarly(bundle, opts);
  try {
    if (launched?.child.pid !== undefined) {
      launched.journaled = journalProcess(launched.child.pid);
      store.writeJournal(id, { stage: launched.journaled, hooks: [] });
    }
    return { release, launched };
  } catch (err) {
    launched?.child.kill('SIGKILL');
    closeTerminalRoute(launched?.terminal, false);
    store.remove(id);
    release();
    throw err;
  }
}

/**
 * Launches the stage from config.json as it is on disk, before the rest of the runtime is even loaded.
 * Nothing in the file has been checked yet, so this reads only a regular file of modest size (opened
 * non-blocking: a FIFO or /dev/zero cannot hang it) and opens no path the file names: a PID namespace
 * joined by path waits for validation. Anything unusual returns undefined: the normal path after full
 * validation reports it properly.
 */
function launchStageEarly(bundle: string, opts: LaunchOptions): LaunchedStage | undefined {
  try {
    const text = readSmallRegularFile(path.join(bundle, 'config.json'), EARLY_CONFIG_MAX_BYTES);
    if (text === undefined) return undefined;
    const raw = JSON.parse(text) as Spec;
    const pidNamespace = pidNamespaceOf(raw);
    // A user namespace's mappings are written by us: they wait for validation too.
    if ((pidNamespace !== 'new' && pidNamespace !== 'host') || hasUserNamespace(raw)) return undefined;
    return launchStage(raw, opts);
  } catch {
    return undefined;
  }
}

/** The file's text if it is a regular file of at most `maxBytes`, else undefined. */
function readSmallRegularFile(file: string, maxBytes: number): string | undefined {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > maxBytes) return undefined;
    const buf = Buffer.alloc(stat.size);
    let length = 0;
    for (let n: number; length < buf.length && (n = fs.readSync(fd, buf, length, buf.length - length, null)) > 0; ) length += n;
    return buf.toString('utf8', 0, length);
  } finally {
    fs.closeSync(fd);
  }
}

export function matchesSpec(launched: LaunchedStage, spec: Spec): boolean {
  return (
    launched.launchedFor.pidNamespace === pidNamespaceOf(spec) &&
    launched.launchedFor.terminal === (spec.process?.terminal === true) &&
    launched.launchedFor.userNamespace === hasUserNamespace(spec)
  );
}

/** Ends a stage that will not be used, and waits until it is gone and reaped (no zombie left behind). */
export async function discardStage(launched: LaunchedStage | undefined): Promise<void> {
  if (!launched) return;
  closeTerminalRoute(launched.terminal, false);
  const { child } = launched;
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
  const reaped = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // Already gone; its exit event is on its way.
  }
  await within(reaped, REAP_TIMEOUT_MS);
}
