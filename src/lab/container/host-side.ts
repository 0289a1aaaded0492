// The launcher's host side of lessons 6 and 7: it calls the learner's pieces that build the veth pair and
// the cgroups, and checks what they made before the container runs, so that a wrong piece fails the enable
// cell with a sentence naming the mistake. Whatever a piece makes where the lab expects it is in the lab's
// journal already (recorded before the launcher started); a cgroup made elsewhere is removed here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withNamespaceOf } from '../../linux/join-namespace.js';
import { getLink, withRouteSocket } from '../../linux/netlink.js';
import { addVethPair, configureInterface } from '../../runtime/steps/loopback.js';
import { createCgroup, setLimits } from '../../runtime/steps/cgroup-join.js';
import type { LessonCgroups, VethPlan } from './plan.js';

/** What is wrong with the pair addVethPair made (or failed to make), if anything. */
function vethProblem(veth: VethPlan, pid: number): string | undefined {
  const peer = withRouteSocket((sock) => getLink(sock, veth.peer), pid);
  if (peer?.kind !== 'veth') {
    const onHost = withRouteSocket((sock) => getLink(sock, veth.peer)) !== undefined;
    return (
      `${veth.peer} is not in the container's network namespace (pid ${pid})${onHost ? `; the host has a ${veth.peer} of its own` : ''}: make the peer there, ` +
      'createVethPair(sock, hostName, peerName, pid) with the pid given (the container\'s, not process.pid)'
    );
  }
  const hostEnd = withRouteSocket((sock) => getLink(sock, veth.host));
  if (hostEnd?.kind !== 'veth') {
    return `there is no veth ${veth.host} on the host: addVethPair must make the pair from the host, with the host end's name (its first argument) first`;
  }
  return undefined;
}

/** The veth pair of lesson 6 between the host and the container's init `pid`, both ends addressed and up. */
export function wireVeth(veth: VethPlan, pid: number): void {
  try {
    addVethPair(veth.host, veth.peer, pid);
  } catch (err) {
    if ((err as Error)?.name === 'NotWrittenYet') throw err;
    const problem = vethProblem(veth, pid);
    throw new Error(`addVethPair('${veth.host}', '${veth.peer}', ${pid}): ${(err as Error)?.message ?? String(err)}${problem ? `; ${problem}` : ''}`);
  }
  const problem = vethProblem(veth, pid);
  if (problem) throw new Error(`after addVethPair('${veth.host}', '${veth.peer}', ${pid}): ${problem}`);
  configureInterface(veth.host, veth.hostAddress, veth.prefixLength);
  withNamespaceOf(pid, 'net', () => configureInterface(veth.peer, veth.peerAddress, veth.prefixLength));
}

/** The cgroups of lesson 7, one below each parent, limits written; returns their directories. */
export function makeCgroups(cgroups: LessonCgroups): string[] {
  return cgroups.parents.map((parent) => {
    const expected = path.join(parent, cgroups.name);
    // Where a wrong parent puts it: only a directory that was not there before is ours to remove.
    const strays = [path.join(path.dirname(parent), cgroups.name), path.resolve(cgroups.name)].filter((d) => !fs.existsSync(d));
    const dir = createCgroup(parent, cgroups.name);
    const made = strays.filter((d) => fs.existsSync(d));
    for (const d of made) fs.rmdirSync(d);
    if (made.length || path.resolve(dir) !== expected) {
      throw new Error(
        `createCgroup('${parent}', '${cgroups.name}') ${made.length ? `made ${made[0]} (the lab removed it)` : `returned ${dir}`}: ` +
          `the lesson cgroup is ${expected}, the name below the parent given`,
      );
    }
    if (!fs.existsSync(expected)) throw new Error(`createCgroup('${parent}', '${cgroups.name}') returned ${expected} but did not make it: mkdir it`);
    setLimits(dir, cgroups.limits);
    return dir;
  });
}
