// Lesson 6: bringUpInterface (read the flags, write them back with IFF_UP added, keep the others), addVethPair
// (the pair from the host, its peer made in the container's namespace) and configureInterface (address, then up).
import type { LessonMutants } from './mutant.js';

export const lesson06: LessonMutants = {
  lesson: '06-network',
  mutants: [
    {
      name: 'IFF_UP written alone (the other flags cleared)',
      edits: [['setInterfaceFlags(sock, name, flags | IFF_UP)', 'setInterfaceFlags(sock, name, IFF_UP)']],
      caught: /keeps those flags[\s\S]*writing IFF_UP alone cleared NOARP, PROMISC/,
    },
    {
      name: '& instead of | (the flag never added)',
      edits: [['setInterfaceFlags(sock, name, flags | IFF_UP)', 'setInterfaceFlags(sock, name, flags & IFF_UP)']],
      caught: /lo is up inside the container[\s\S]*lo flags <LOOPBACK>[\s\S]*with IFF_UP added/,
    },
    {
      name: '^ toggles: an interface already up is taken down',
      edits: [['if (!(flags & IFF_UP)) setInterfaceFlags(sock, name, flags | IFF_UP);', 'setInterfaceFlags(sock, name, flags ^ IFF_UP);']],
      caught: /already up leaves it up[\s\S]*\^ toggles it/,
    },
    {
      name: "'lo' hard-coded instead of the name given",
      edits: [['if (!(flags & IFF_UP)) setInterfaceFlags(sock, name, flags | IFF_UP);', "if (!(flags & IFF_UP)) setInterfaceFlags(sock, 'lo', getInterfaceFlags(sock, 'lo') | IFF_UP);"]],
      caught: /bring up the interface named by the argument/,
    },
    {
      name: 'peer not moved: created without the pid (it stays on the host)',
      edits: [['createVethPair(sock, hostName, peerName, pid)', 'createVethPair(sock, hostName, peerName)']],
      caught: /eth0 is not in the container's network namespace[\s\S]*createVethPair\(sock, hostName, peerName, pid\)/,
    },
    {
      name: "process.pid (the launcher's own namespace) instead of the pid given",
      edits: [['createVethPair(sock, hostName, peerName, pid)', 'createVethPair(sock, hostName, peerName, process.pid)']],
      caught: /eth0 is not in the container's network namespace[\s\S]*not process\.pid/,
    },
    {
      name: 'addressed but never brought up',
      edits: [['    setLinkUp(sock, name);\n', '']],
      caught: /tslab-lab0 is up with[\s\S]*tslab-lab0 down[\s\S]*setLinkUp\(sock, name\)/,
    },
  ],
};
