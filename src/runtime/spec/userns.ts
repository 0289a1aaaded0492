// Checks of a config's user namespace and its uid/gid mappings, as runc makes them (libcontainer's
// validator and specconv) and as the kernel would refuse them when we write /proc/<pid>/uid_map, but said
// before anything is started, naming the field.
import type { IdMapping, Spec } from './types.js';

/** The most lines a uid_map or gid_map takes (the kernel's UID_GID_MAP_MAX_EXTENTS). */
const MAX_EXTENTS = 340;

export interface UserNamespaceProblem {
  field: string;
  sentence: string;
}

type Kind = 'uidMappings' | 'gidMappings';

function rangesOverlap(aFirst: number, aSize: number, bFirst: number, bSize: number): boolean {
  return aFirst < bFirst + bSize && bFirst < aFirst + aSize;
}

/** One kind's mappings: not empty, not too many, no empty range, no two ranges sharing an id inside or outside. */
function mappingsProblem(kind: Kind, mappings: readonly IdMapping[]): UserNamespaceProblem | undefined {
  const what = kind === 'uidMappings' ? 'uid' : 'gid';
  if (mappings.length === 0) {
    return {
      field: `linux.${kind}`,
      sentence: `the container has a new user namespace ({"type": "user"} in linux.namespaces), but no ${what} mappings: linux.${kind} must map the container's ${what}s to host ${what}s, like [{"containerID": 0, "hostID": 100000, "size": 65536}]`,
    };
  }
  if (mappings.length > MAX_EXTENTS) {
    return { field: `linux.${kind}`, sentence: `linux.${kind} has ${mappings.length} ranges, but the kernel takes at most ${MAX_EXTENTS} in a ${what}_map` };
  }
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i];
    if (m.size === 0) return { field: `linux.${kind}[${i}].size`, sentence: `linux.${kind}[${i}].size is 0: a mapping must cover at least one ${what}` };
    for (let j = 0; j < i; j++) {
      const o = mappings[j];
      const side = rangesOverlap(m.containerID, m.size, o.containerID, o.size) ? 'containerID' : rangesOverlap(m.hostID, m.size, o.hostID, o.size) ? 'hostID' : undefined;
      if (side) {
        return {
          field: `linux.${kind}[${i}]`,
          sentence: `linux.${kind}[${i}] and linux.${kind}[${j}] overlap (their ${side} ranges share ${what}s): each ${what} may be mapped once, inside and outside`,
        };
      }
    }
  }
  if (!mappings.some((m) => m.containerID === 0)) {
    return { field: `linux.${kind}`, sentence: `linux.${kind} does not map ${what} 0: the container's root must be mapped to a host ${what} (runc: "no root user mapping found")` };
  }
  return undefined;
}

function isMapped(id: number, mappings: readonly IdMapping[]): boolean {
  return mappings.some((m) => id >= m.containerID && id - m.containerID < m.size);
}

/**
 * What is wrong with the config's user namespace or mappings, if anything. Expects each mapping's ids and
 * size to have been checked against the largest id already.
 */
export function userNamespaceProblem(spec: Spec): UserNamespaceProblem | undefined {
  const linux = spec.linux;
  const uids = linux?.uidMappings ?? [];
  const gids = linux?.gidMappings ?? [];
  const namespaces = linux?.namespaces ?? [];
  const index = namespaces.findIndex((ns) => ns.type === 'user');
  if (index < 0) {
    for (const [kind, mappings] of [['uidMappings', uids], ['gidMappings', gids]] as const) {
      if (mappings.length > 0) {
        return {
          field: `linux.${kind}`,
          sentence: `linux.${kind} is set, but the container has no user namespace to map (runc: "user namespace mappings specified, but USER namespace isn't enabled in the config"): add {"type": "user"} to linux.namespaces, or remove linux.${kind}`,
        };
      }
    }
    return undefined;
  }
  const pid = namespaces.find((ns) => ns.type === 'pid');
  if (pid?.path) {
    return {
      field: 'linux.namespaces',
      sentence: 'a PID namespace joined by path together with a user namespace is not supported by tslab: give the container a PID namespace of its own ({"type": "pid"} without a path)',
    };
  }
  // A namespace joined by path has its mappings already: any given are checked against them at create.
  const joined = Boolean(namespaces[index].path);
  if (joined && uids.length + gids.length === 0) return undefined;
  const problem = mappingsProblem('uidMappings', uids) ?? mappingsProblem('gidMappings', gids);
  if (problem) return problem;
  const user = spec.process?.user;
  if (user) {
    const ids: Array<[string, number, readonly IdMapping[]]> = [
      ['process.user.uid', user.uid, uids],
      ['process.user.gid', user.gid, gids],
      ...(user.additionalGids ?? []).map((gid, i): [string, number, readonly IdMapping[]] => [`process.user.additionalGids[${i}]`, gid, gids]),
    ];
    for (const [field, id, mappings] of ids) {
      if (!isMapped(id, mappings)) {
        const kind = mappings === uids ? 'uidMappings' : 'gidMappings';
        return { field, sentence: `${field} is ${id}, which linux.${kind} does not map: the container's process cannot take an id that has no host id in its user namespace` };
      }
    }
  }
  return undefined;
}
