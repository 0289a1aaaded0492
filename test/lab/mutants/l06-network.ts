// Lesson 6: bringUpInterface. The lesson: read the flags, write them back with IFF_UP added, keep the others.
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
  ],
};
