// Runs a command inside a running lesson container, which the lab names by its init's pid (it has no
// runtime state): `exec`'s own path (exec/launch.ts), with the process runc's exec would build for a
// container config that gives root the init's capabilities and no_new_privs.
//   node enter.cjs PID [--cgroup DIR]... -- COMMAND [ARG...]
// Exit status: the command's, or 125 when it could not be started.
import { CLOSE_RANGE_CLOEXEC, closeRange } from '../../linux/fs.js';
import { maskToCaps } from '../process/capability-names.js';
import { launchExec } from './launch.js';
import { readProcStat, readStatusField } from '../../linux/proc.js';
import type { Process } from '../spec/types.js';
import { joinCgroups } from '../steps/join-container.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function statusField(pid: number, field: string): string {
  const value = readStatusField(pid, field);
  if (value === undefined) throw new Error(`/proc/${pid}/status has no ${field} (is process ${pid} gone?)`);
  return value;
}

function parseArgs(argv: string[]): { pid: number; cgroupDirs: string[]; command: string[] } {
  const pid = Number(argv[0]);
  const cgroupDirs: string[] = [];
  let i = 1;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--cgroup' && i + 1 < argv.length) cgroupDirs.push(argv[++i]);
    else throw new Error(`enter: unknown argument ${argv[i]}`);
  }
  const command = argv.slice(i + 1);
  if (!Number.isInteger(pid) || pid <= 0 || !command.length) throw new Error('usage: enter PID [--cgroup DIR]... -- COMMAND...');
  return { pid, cgroupDirs, command };
}

/** Root with what the init may have: its bounding set as every set, its no_new_privs. */
function processLike(pid: number, command: string[]): Process {
  const caps = maskToCaps(BigInt(`0x${statusField(pid, 'CapBnd')}`));
  return {
    args: command,
    cwd: '/',
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', `TERM=${process.env.TERM ?? 'xterm'}`],
    user: { uid: 0, gid: 0 },
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: statusField(pid, 'NoNewPrivs') === '1',
  };
}

async function main(): Promise<number> {
  // Whatever our caller left open (a shell's `exec 200</`, say) must not reach the container.
  closeRange(3, 0xffffffff, CLOSE_RANGE_CLOEXEC);
  const { pid, cgroupDirs, command } = parseArgs(process.argv.slice(2));
  const startTime = readProcStat(pid)?.startTime;
  if (startTime === undefined) throw new Error(`no process ${pid}: the lesson container is not running`);
  const { child, exited } = await launchExec({ pid, startTime, joinCgroups: (p) => joinCgroups(cgroupDirs, p) }, { process: processLike(pid, command) });
  for (const signal of FORWARDED) process.on(signal, () => child.kill(signal));
  return exited;
}

main().then(
  (status) => process.exit(status),
  (err: unknown) => {
    process.stderr.write(`tslab enter: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(125);
  },
);
