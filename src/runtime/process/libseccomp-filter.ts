// Building config.json's linux.seccomp with libseccomp and loading it into the calling thread. What the
// config means (and what is refused) is decided in spec/seccomp-profile.ts; a syscall name libseccomp does not
// know is skipped here, as runc skips it (an older library, or another architecture's call). The filter
// never sets no_new_privs itself: that is process.noNewPrivileges' job.
import {
  SCMP_FLTATR_CTL_LOG,
  SCMP_FLTATR_CTL_NNP,
  SCMP_FLTATR_CTL_SSB,
  SeccompFilter,
  preloadLibseccomp,
  resolveArch,
  resolveSyscall,
  seccompApiLevel,
} from '../../linux/seccomp.js';
import { RuntimeError } from '../runtime-error.js';
import { seccompPlan, seccompProblem } from '../spec/seccomp-profile.js';
import type { Seccomp } from '../spec/types.js';

// The library is mapped now, while this process still sees the host's files: a process that later enters a
// container's root or mount namespace (the init stage, exec) would otherwise look for it in the container.
preloadLibseccomp();

const FLAG_LOG = 'SECCOMP_FILTER_FLAG_LOG';
const FLAG_SPEC_ALLOW = 'SECCOMP_FILTER_FLAG_SPEC_ALLOW';

/** A filter built and checked by libseccomp, not yet loaded. */
export interface PreparedSeccomp {
  /** Loads it into the calling thread. Without no_new_privs this needs CAP_SYS_ADMIN, so it goes before the capabilities are dropped. */
  load(): void;
  release(): void;
}

function failed(doing: string, err: unknown): RuntimeError {
  return new RuntimeError(`seccomp: ${doing}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * Builds the filter `seccomp` describes (undefined: none asked for). Everything that can fail except the
 * load itself fails here, so a caller builds it before the point of no return and loads it at the last moment.
 */
export function prepareSeccomp(seccomp: Seccomp | undefined): PreparedSeccomp | undefined {
  if (!seccomp) return undefined;
  const problem = seccompProblem(seccomp);
  if (problem) throw new RuntimeError(problem.sentence);
  const plan = seccompPlan(seccomp);
  if (!plan) return undefined;
  let filter: SeccompFilter;
  try {
    filter = new SeccompFilter(plan.defaultAction);
  } catch (err) {
    throw failed('creating the filter', err);
  }
  try {
    for (const name of plan.architectures) {
      const token = resolveArch(name);
      if (token === undefined) throw new RuntimeError(`seccomp: libseccomp on this machine does not know the architecture ${name}`);
      filter.addArch(token);
    }
    // Whether the process may gain privileges is process.noNewPrivileges' choice, not the filter's.
    filter.setAttr(SCMP_FLTATR_CTL_NNP, 0);
    if (plan.log) requireApi(3, FLAG_LOG, () => filter.setAttr(SCMP_FLTATR_CTL_LOG, 1));
    if (plan.specAllow) requireApi(4, FLAG_SPEC_ALLOW, () => filter.setAttr(SCMP_FLTATR_CTL_SSB, 1));
    for (const rule of plan.rules) {
      const nr = resolveSyscall(rule.name);
      if (nr === undefined) continue; // unknown to this libseccomp: skipped, as runc skips it
      try {
        filter.addRule(rule.action, nr, rule.args, rule.name);
      } catch (err) {
        throw failed(`adding the rule for ${rule.name}`, err);
      }
    }
  } catch (err) {
    filter.release();
    throw err instanceof RuntimeError ? err : failed('building the filter', err);
  }
  return {
    load() {
      try {
        filter.load();
      } catch (err) {
        throw failed('loading the filter into the kernel', err);
      }
    },
    release() {
      filter.release();
    },
  };
}

function requireApi(level: number, flag: string, apply: () => void): void {
  const api = seccompApiLevel();
  if (api < level) throw new RuntimeError(`seccomp: ${flag} needs libseccomp API level ${level} or more, but this machine's libseccomp and kernel offer level ${api}`);
  apply();
}
