// Network classes and priorities: OCI linux.resources.network -> the v1 net_cls and net_prio controllers.
//   net_cls.classid    the class id traffic control (tc) filters on, e.g. 0x100001 for class 10:1
//   net_prio.ifpriomap "eth0 5": the priority of the container's packets on an interface
// cgroup v2 has neither (its answer is an eBPF program per socket), so there they cannot be applied.

import type { NetworkResources } from '../spec/types.js';
import { CgroupError } from './cgroup-error.js';
import type { CgroupWrite } from './write.js';

export function planNetworkClasses(net: NetworkResources | undefined, version: 'v1' | 'v2'): CgroupWrite[] {
  if (!net) return [];
  const writes: CgroupWrite[] = [];
  if (net.classID !== undefined) {
    writes.push({ controller: 'net_cls', file: 'net_cls.classid', value: String(net.classID), setting: 'linux.resources.network.classID' });
  }
  (net.priorities ?? []).forEach((p, i) => {
    writes.push({ controller: 'net_prio', file: 'net_prio.ifpriomap', value: `${p.name} ${p.priority}`, setting: `linux.resources.network.priorities[${i}]` });
  });
  if (version === 'v2' && writes.length > 0) {
    throw new CgroupError(
      `${writes[0]!.setting} cannot be applied: cgroup v2 has no net_cls or net_prio controller (they exist only in cgroup v1); remove linux.resources.network`,
    );
  }
  return writes;
}
