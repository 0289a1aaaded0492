// Runs a command inside a running lesson container, which the lab names by its init's pid (it has no
// runtime state), as a program of its own: `tslab shell` gives it the learner's terminal (by-pid.ts).
//   node enter.cjs PID [--cgroup DIR]... -- COMMAND [ARG...]
// Exit status: the command's, or 125 when it could not be started.
import { CLOSE_RANGE_CLOEXEC, closeRange } from '../../linux/fs.js';
import { execByPid } from './by-pid.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

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

async function main(): Promise<number> {
  // Whatever our caller left open (a shell's `exec 200</`, say) must not reach the container.
  closeRange(3, 0xffffffff, CLOSE_RANGE_CLOEXEC);
  const { pid, cgroupDirs, command } = parseArgs(process.argv.slice(2));
  const { child, exited } = await execByPid(pid, cgroupDirs, command);
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
