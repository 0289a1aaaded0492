// LESSON 8 — Capabilities and no_new_privs
//
// Root's power comes in capabilities (CAP_SYS_ADMIN is 21, CAP_NET_ADMIN 12...). The bounding set caps
// what the process and every program it execs can ever gain. Write dropBoundingSet(keep): for each
// capability from 0 to the last the kernel knows (/proc/sys/kernel/cap_last_cap), not in `keep`, call
// prctl(PR_CAPBSET_DROP, cap). Then setNoNewPrivs(): prctl(PR_SET_NO_NEW_PRIVS, 1), so no exec gains more.
import { PR_CAPBSET_DROP, PR_CAPBSET_READ, PR_SET_NO_NEW_PRIVS, lastCapability, prctl } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function dropBoundingSet(keep: readonly number[]): void {
  // TODO(lesson 8): drop every capability that `keep` does not list from the bounding set.
  throw new NotWrittenYet(8, 'dropBoundingSet', 'capabilities.ts', 'lastCapability() reads /proc/sys/kernel/cap_last_cap; loop from 0 to it and skip keep.includes(cap)');
}

export function setNoNewPrivs(): void {
  // TODO(lesson 8): set no_new_privs.
  throw new NotWrittenYet(8, 'setNoNewPrivs', 'capabilities.ts', 'one call: prctl(PR_SET_NO_NEW_PRIVS, 1)');
}
