// Starting the PID-1 stage inside a new user namespace. A multithreaded process cannot create one
// (unshare(CLONE_NEWUSER) fails with EINVAL), and Node has threads from its first instruction, so the step
// comes before Node starts: util-linux `unshare` creates the user namespace (and the PID namespace, owned by
// it) and execs bash, which waits until we have written the uid_map and gid_map from outside, then forks
// PID 1: it becomes root of the namespace (setpriv) and execs the stage. Every namespace the stage makes
// later is owned by the new user namespace, as runc's are. A user namespace joined by path is entered the
// same way, with nsenter in place of unshare --user and no maps to write.
//
// The stage's pid is that of PID 1, not of bash: bash stays its parent, waits for it and exits with its
// status (128+N for a signal N, as `run` reports it anyway), so a foreground `run` still waits on its own
// child. (unshare --fork would do the waiting too, but util-linux 2.38 turns a child's SIGKILL into its
// own exit 1 and a "sigprocmask unblock failed" on the container's stderr.) A detached container lets bash
// go once it is recorded (releaseLauncher): PID 1 is then adopted by the caller's subreaper (an engine's
// shim or conmon) or by init, as runc's init is when its parents exit.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { close } from '../../linux/fs.js';
import { socketpair } from '../../linux/socket.js';
import { nodeCommandFor, type NodeCommand } from '../../fs/reachable.js';
import { RuntimeError } from '../runtime-error.js';
import type { IdMapping, Spec } from '../spec/types.js';

const UNSHARE = '/usr/bin/unshare';
const NSENTER = '/usr/bin/nsenter';
const SETPRIV = '/usr/bin/setpriv';
const SETSID = '/usr/bin/setsid';
/** bash, not dash: the handshake fd may be numbered above 9, which dash's redirections cannot name. */
const BASH = '/bin/bash';

/**
 * Run by bash in the new namespaces: says it exists, waits for the go-ahead (the maps are written by then),
 * forks PID 1 (its stdin kept: an asynchronous command's would be /dev/null), tells us its pid and waits
 * for it, its own stderr silenced (bash reports a killed job there). `--keep-caps` (unshare) keeps the
 * capabilities across the execs made while the uid is still unmapped; setpriv then makes PID 1 uid/gid 0
 * of the namespace, in a session of its own as a stage started without a user namespace is (a terminal
 * needs one: TIOCSCTTY). No `setgroups deny` is written (we write the maps as root), so --clear-groups works.
 * A closed handshake (we died) makes `read` fail and bash exit before any PID 1 exists.
 */
const HANDSHAKE = 'fd=$1; shift; echo >&$fd && read -r _ <&$fd || exit 1; "$@" <&0 {fd}>&- & echo $! >&$fd; exec {fd}>&- 2>/dev/null; wait $!';

/** The launchers (unshare, then bash) of stages born in a user namespace, by the stage's ChildProcess. */
const launchers = new WeakMap<ChildProcess, number>();

export function hasUserNamespace(spec: Spec): boolean {
  return spec.linux?.namespaces?.some((ns) => ns.type === 'user') ?? false;
}

/** The text of a uid_map or gid_map: one "inside outside count" line per mapping, written at once. */
function mapText(mappings: readonly IdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function writeMap(pid: number, file: 'uid_map' | 'gid_map', mappings: readonly IdMapping[]): void {
  const target = `/proc/${pid}/${file}`;
  try {
    fs.writeFileSync(target, mapText(mappings));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RuntimeError(`write(${target}): ${code}: the kernel refused the ${file === 'uid_map' ? 'uid' : 'gid'} mappings of the container's user namespace (${mapText(mappings).trim().replace(/\n/g, ', ')})`);
  }
}

/** A uid_map or gid_map as its lines of three numbers, spaces evened out. */
function readMap(pid: number, file: 'uid_map' | 'gid_map'): string[] {
  return fs
    .readFileSync(`/proc/${pid}/${file}`, 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/).join(' '))
    .filter(Boolean);
}

/** Mappings given for a joined user namespace must be the ones it has: they cannot be changed, and are not ignored. */
function checkJoinedMappings(pid: number, file: 'uid_map' | 'gid_map', mappings: readonly IdMapping[] | undefined): void {
  if (!mappings?.length) return;
  const has = readMap(pid, file);
  const asked = mapText(mappings).trim().split('\n');
  if (has.join(',') !== asked.join(',')) {
    const field = file === 'uid_map' ? 'linux.uidMappings' : 'linux.gidMappings';
    throw new RuntimeError(`${field} (${asked.join(', ')}) differs from the ${file} of the user namespace joined by path (${has.join(', ') || 'empty'}): a joined namespace's mappings cannot be changed; leave ${field} out or make it the same`);
  }
}

/** Reads one line from a blocking fd, a byte at a time (nothing after it is ours to take). */
function readLine(fd: number): string | undefined {
  const byte = Buffer.alloc(1);
  let line = '';
  for (;;) {
    if (fs.readSync(fd, byte, 0, 1, null) !== 1) return undefined;
    if (byte[0] === 0x0a) return line;
    line += String.fromCharCode(byte[0]);
    if (line.length > 32) return undefined;
  }
}

/** The host id that id 0 of the namespace maps to in config.json's mappings, or undefined when 0 is not mapped. */
function configuredRootId(mappings: IdMapping[] | undefined): number | undefined {
  const m = mappings?.find((each) => each.containerID <= 0 && 0 < each.containerID + each.size);
  return m === undefined ? undefined : m.hostID - m.containerID;
}

/**
 * A process in the user namespace at `nsPath` (an nsfs file: /proc/PID/ns/user, or a bind mount of one), found
 * by the namespace's inode among /proc's processes; undefined when none is left in it.
 */
function processInNamespace(nsPath: string): number | undefined {
  let link: string;
  try {
    link = `user:[${fs.statSync(nsPath).ino}]`;
  } catch {
    return undefined; // nsenter says why it cannot join it
  }
  const named = /^\/proc\/(\d+)\/ns\/user$/.exec(nsPath);
  const candidates = named ? [named[1], ...fs.readdirSync('/proc')] : fs.readdirSync('/proc');
  for (const entry of candidates) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/user`) === link) return Number(entry);
    } catch {
      // Exited while we looked.
    }
  }
  return undefined;
}

/** The host uid and gid of the container's root: from config.json's mappings, else from the namespace joined. */
function containerRootIds(spec: Spec, joined: string | undefined): { uid: number; gid: number } | undefined {
  const uid = configuredRootId(spec.linux?.uidMappings);
  const gid = configuredRootId(spec.linux?.gidMappings);
  if (uid !== undefined && gid !== undefined) return { uid, gid };
  const member = joined ? processInNamespace(joined) : undefined;
  if (member === undefined) return undefined;
  try {
    return { uid: hostIdOfRoot(member, 'uid_map'), gid: hostIdOfRoot(member, 'gid_map') };
  } catch {
    return undefined;
  }
}

/**
 * `node script` as the stage's first process, which runs as the mapped root before it loads anything, can
 * start it: through fds of ours where a directory (a 0700 home or mktemp -d above the package) stops that uid.
 */
function stageCommand(spec: Spec, joined: string | undefined, script: string, firstFd: number): NodeCommand {
  const root = containerRootIds(spec, joined);
  if (!root || root.uid === 0) return { argv: [process.execPath, script], fds: [], env: {} };
  try {
    return nodeCommandFor(process.execPath, script, root.uid, root.gid, firstFd);
  } catch (err) {
    throw new RuntimeError((err as Error).message);
  }
}

/**
 * Spawns the stage as PID 1 of a new PID namespace (or, with `pidNamespace` 'host', in the caller's) inside
 * the container's user namespace (new, its mappings written by us, or joined by path), and returns once it
 * runs as root of that namespace. The returned ChildProcess is the launcher's (bash), with `pid` set to the
 * stage's own. Blocks for the few milliseconds unshare and bash take to start: the mappings must be in
 * place before the stage does anything. `script` is run by this process's node.
 */
export function spawnInUserNamespace(
  spec: Spec,
  pidNamespace: string,
  script: string,
  stdio: Array<number | 'pipe' | 'ignore'>,
  env: NodeJS.ProcessEnv,
): ChildProcess {
  if (pidNamespace !== 'new' && pidNamespace !== 'host') {
    throw new RuntimeError('a PID namespace joined by path together with a new user namespace is not supported by tslab: give the container a PID namespace of its own ({"type": "pid"} without a path)');
  }
  const joined = spec.linux?.namespaces?.find((ns) => ns.type === 'user')?.path || undefined;
  const newPid = pidNamespace === 'new' ? ['--pid'] : [];
  // Joined: nsenter makes us uid and gid 0 there (with every capability of that namespace), and the PID
  // namespace is made after, so that namespace owns it too. Created: unshare makes both at once.
  const launcher = joined ? [NSENTER, `--user=${joined}`, '--', UNSHARE, ...newPid, '--'] : [UNSHARE, '--user', '--keep-caps', ...newPid, '--'];
  const doing = joined ? `join the user namespace ${joined}` : 'create the container\'s user namespace';
  const handshakeFd = stdio.length;
  const stage = stageCommand(spec, joined, script, handshakeFd + 1);
  const [ours, theirs] = socketpair();
  let child: ChildProcess | undefined;
  try {
    child = spawn(
      launcher[0],
      [...launcher.slice(1), BASH, '-c', HANDSHAKE, 'handshake', String(handshakeFd), SETSID, SETPRIV, '--reuid=0', '--regid=0', '--clear-groups', '--', ...stage.argv],
      { stdio: [...stdio, theirs, ...stage.fds], detached: true, env: { ...env, ...stage.env } },
    );
    close(theirs);
    for (const fd of stage.fds.splice(0)) fs.closeSync(fd);
    const launcherPid = child.pid;
    if (launcherPid === undefined) throw new RuntimeError(`cannot run ${launcher[0]} to ${doing}`);
    if (readLine(ours) !== '') throw new RuntimeError(`${launcher[0]} could not ${doing} (it exited before the container's init started)`);
    if (joined) {
      checkJoinedMappings(launcherPid, 'uid_map', spec.linux?.uidMappings);
      checkJoinedMappings(launcherPid, 'gid_map', spec.linux?.gidMappings);
    } else {
      writeMap(launcherPid, 'uid_map', spec.linux?.uidMappings ?? []);
      writeMap(launcherPid, 'gid_map', spec.linux?.gidMappings ?? []);
    }
    fs.writeSync(ours, '\n');
    const init = Number(readLine(ours));
    if (!Number.isSafeInteger(init) || init <= 0) throw new RuntimeError(`${BASH} did not start the container's init in its user namespace`);
    Object.defineProperty(child, 'pid', { value: init, enumerable: true });
    launchers.set(child, launcherPid);
    return child;
  } catch (err) {
    if (child?.pid !== undefined) {
      try {
        // The launcher leads its own process group (detached), which the init shares.
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    throw err;
  } finally {
    close(ours);
    for (const fd of stage.fds) fs.closeSync(fd);
  }
}

/**
 * Lets the bash between us and a detached container's init go. The init lives on and is adopted by the
 * nearest subreaper, which then sees its exit, as it would runc's init's. Nothing for a stage not started in
 * a user namespace. Resolves once bash is reaped: until then its zombie still counts as a process of the
 * container's user namespace (a zombie keeps its credentials), and our caller looks at the container next.
 */
export async function releaseLauncher(child: ChildProcess): Promise<void> {
  const launcher = launchers.get(child);
  if (launcher === undefined) return;
  launchers.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const reaped = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 2000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  try {
    process.kill(launcher, 'SIGKILL');
  } catch {
    // It exited with the init.
  }
  if (!(await reaped)) throw new RuntimeError(`the launcher (pid ${launcher}) of the container's init did not end on SIGKILL`);
}

/** The host id that `file` (uid_map or gid_map) of `pid` maps the namespace's 0 to. */
export function hostIdOfRoot(pid: number, file: 'uid_map' | 'gid_map'): number {
  const root = readMap(pid, file)
    .map((line) => line.split(' ').map(Number))
    .find(([inside]) => inside === 0);
  if (!root) throw new RuntimeError(`/proc/${pid}/${file} does not map 0: the container's user namespace has no root`);
  return root[1];
}

/**
 * Gives a file we make for the init (the exec FIFO) to the container's root, as runc does: root of a user
 * namespace has no power over a file whose owner is not mapped into it (inotify on the FIFO needs read).
 * The ids are read from the init's maps, so a user namespace joined by path is served the same way.
 */
export function ownByContainerRoot(file: string, spec: Spec, pid: number): void {
  if (!hasUserNamespace(spec)) return;
  const uid = hostIdOfRoot(pid, 'uid_map');
  const gid = hostIdOfRoot(pid, 'gid_map');
  try {
    fs.chownSync(file, uid, gid);
  } catch (err) {
    throw new RuntimeError(`chown(${file}, ${uid}, ${gid}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: cannot give the exec FIFO to the container's root`);
  }
}
