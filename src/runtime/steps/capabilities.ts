// Lesson 8: root's power is split into capabilities. The bounding set caps what the process and every
// program it execs can ever gain, so dropping a capability there is for good (PR_CAPBSET_DROP, which
// needs CAP_SETPCAP). no_new_privs stops execve from granting more: no setuid bit, no file capabilities.
import { PR_CAPBSET_DROP, PR_CAPBSET_READ, PR_SET_NO_NEW_PRIVS, lastCapability, prctl } from '../../linux/index.js';

export function dropBoundingSet(keep: readonly number[]): void {
  const last = lastCapability(); // /proc/sys/kernel/cap_last_cap: the highest number this kernel knows
  for (let cap = 0; cap <= last; cap++) {
    if (keep.includes(cap)) continue;
    if (prctl(PR_CAPBSET_READ, cap) === 1) prctl(PR_CAPBSET_DROP, cap);
  }
}

export function setNoNewPrivs(): void {
  prctl(PR_SET_NO_NEW_PRIVS, 1);
}
