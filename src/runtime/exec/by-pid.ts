// exec into a container known only by its init's pid and cgroup directories (a lesson container has no
// runtime state): exec's own path (launch.ts), with the process runc's exec would build for a container
// config that gives root the init's capabilities and no_new_privs. Used by enter.ts (`tslab shell`) and by
// the lab, which runs its container cells and checks this way in its own process.
import { maskToCaps } from '../process/capability-names.js';
import { type ExecRequest, type ExecutedProcess, launchExec } from './launch.js';
import { readProcStat, readStatusField } from '../../linux/proc.js';
import { RuntimeError } from '../runtime-error.js';
import type { Process } from '../spec/types.js';
import { joinCgroups } from '../steps/join-container.js';

function statusField(pid: number, field: string): string {
  const value = readStatusField(pid, field);
  if (value === undefined) throw new RuntimeError(`/proc/${pid}/status has no ${field} (is process ${pid} gone?)`);
  return value;
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

/**
 * Starts `command` in the container whose init is `pid`, in its cgroups `cgroupDirs`; resolves once it is exec'd.
 * `signal` gives up on a start that has not got that far; `onSpawn` gets the process as soon as it exists.
 */
export async function execByPid(
  pid: number,
  cgroupDirs: readonly string[],
  command: string[],
  opts: Pick<ExecRequest, 'stdio' | 'signal' | 'onSpawn'> = {},
): Promise<ExecutedProcess> {
  const startTime = readProcStat(pid)?.startTime;
  if (startTime === undefined) throw new RuntimeError(`no process ${pid}: the lesson container is not running`);
  return launchExec({ pid, startTime, joinCgroups: (p) => joinCgroups(cgroupDirs, p) }, { process: processLike(pid, command), ...opts });
}
