// The last steps before execve(): who the process is (ids, capabilities, limits) and what it inherits
// (signal dispositions, file descriptors). Runs on the stage's main thread, which is the one that execs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { capset, lastCapability, setAmbient } from '../../linux/capabilities.js';
import { CLOSE_RANGE_CLOEXEC, closeRange, setCloexec, umask } from '../../linux/fs.js';
import { PR_SET_KEEPCAPS, prctl, prlimit, resetSignals, setgroups, setresgid, setresuid } from '../../linux/process.js';
import { capabilityNumber, capsToMask } from '../capabilities.js';
import { rlimitNumber } from '../rlimits.js';
import type { Process } from '../spec/types.js';
import { dropBoundingSet, setNoNewPrivs } from '../steps/capabilities.js';

const RLIMIT_NOFILE = 7;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function isExecutableFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Finds args[0] as the container will see it (after the switch of root), like runc's LookPath. */
export function findExecutable(proc: Process): string {
  const name = proc.args[0];
  if (name.includes('/')) {
    const file = path.resolve(proc.cwd, name);
    if (!isExecutableFile(file)) throw new Error(`exec: "${name}": no such executable file in the container (or it is not executable)`);
    return file;
  }
  const pathVar = proc.env?.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    const file = path.join(dir || '.', name);
    if (isExecutableFile(file)) return file;
  }
  throw new Error(`exec: "${name}": executable file not found in $PATH`);
}

/** Creates the working directory if the image lacks it, as runc does, and enters it. */
export function enterCwd(proc: Process): void {
  fs.mkdirSync(proc.cwd, { recursive: true });
  process.chdir(proc.cwd);
}

/** The configured environment, plus HOME from the container's /etc/passwd when it has none (as runc). */
export function environmentWithHome(proc: Process): string[] {
  const env = proc.env ?? [];
  if (env.some((entry) => entry.startsWith('HOME='))) return env;
  let home = '/';
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 6 && Number(fields[2]) === proc.user.uid && fields[2] !== '') {
        home = fields[5] || '/';
        break;
      }
    }
  } catch {
    // No /etc/passwd in the image: "/" it is.
  }
  return [...env, `HOME=${home}`];
}

export function setOomScoreAdj(value: number): void {
  try {
    fs.writeFileSync('/proc/self/oom_score_adj', String(value));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(
      `cannot set process.oomScoreAdj to ${value}: writing /proc/self/oom_score_adj failed with ${code}` +
        (code === 'EACCES' ? ' — lowering it needs CAP_SYS_RESOURCE, which this machine\'s capability bounding set lacks' : ''),
    );
  }
}

export function applyRlimits(proc: Process): void {
  const rlimits = proc.rlimits ?? [];
  for (const limit of rlimits) prlimit(0, rlimitNumber(limit.type), limit.soft, limit.hard, limit.type);
  // Node raised its own soft NOFILE limit at start-up; a container gets the conventional 1024 unless asked.
  if (!rlimits.some((l) => l.type === 'RLIMIT_NOFILE')) {
    const hard = /Max open files\s+\d+\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1];
    const hardValue = hard === undefined || hard === 'unlimited' ? -1 : Number(hard);
    prlimit(0, RLIMIT_NOFILE, hardValue === -1 ? 1024 : Math.min(1024, hardValue), hardValue, 'RLIMIT_NOFILE');
  }
}

/** User, groups and capabilities, in the only order that works: bounding set first, ids, then capset. */
export function applyIdentity(proc: Process): void {
  const caps = proc.capabilities;
  if (caps) dropBoundingSet((caps.bounding ?? []).map(capabilityNumber));
  prctl(PR_SET_KEEPCAPS, 1);
  setgroups(proc.user.additionalGids ?? []);
  setresgid(proc.user.gid);
  setresuid(proc.user.uid);
  prctl(PR_SET_KEEPCAPS, 0);
  if (caps) {
    capset({
      effective: capsToMask(caps.effective ?? []),
      permitted: capsToMask(caps.permitted ?? []),
      inheritable: capsToMask(caps.inheritable ?? []),
    });
    // The kernel raises an ambient capability only if it is also permitted and inheritable; like runc,
    // the others are left out rather than failing (runc's own default spec lists ambient without inheritable).
    const raisable = capsToMask(caps.permitted ?? []) & capsToMask(caps.inheritable ?? []);
    setAmbient(capsToMask(caps.ambient ?? []) & raisable, lastCapability());
  }
  if (proc.noNewPrivileges) setNoNewPrivs();
}

/** Leaves the exec'd program default signal handling and only the fds it should have. */
export function prepareInheritance(proc: Process, preserveFds: number): void {
  umask(proc.user.umask ?? 0o022);
  resetSignals();
  for (const fd of [0, 1, 2]) {
    try {
      setCloexec(fd, false);
    } catch {
      // An fd the caller did not open stays closed.
    }
  }
  closeRange(3 + preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
  for (let fd = 3; fd < 3 + preserveFds; fd++) setCloexec(fd, false);
}
