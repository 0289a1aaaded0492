// Lesson 8: capabilities and no_new_privs. /proc/<pid>/status of the container's init shows CapEff and
// CapBnd equal to Docker's 14 capabilities and NoNewPrivs 1; sethostname inside fails and the hostname read
// from the container's UTS namespace is unchanged; mounting a tmpfs inside fails and no mount appears in
// its mountinfo.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { KEPT_CAPABILITIES } from '../lesson-container.js';
import { capabilityName, capsToMask } from '../../runtime/process/capability-names.js';
import { readStatusField } from '../../linux/proc.js';
import { readMountinfo } from '../../linux/mountinfo.js';
import { hostnameOf } from '../kernel-state.js';
import { requireContainer, verdict } from './common.js';
import type { LessonCheck } from './types.js';

const KEPT_MASK = capsToMask(KEPT_CAPABILITIES);
const EXPECTED = KEPT_MASK.toString(16).padStart(16, '0');

function capName(bit: number): string {
  return capabilityName(bit).replace(/^CAP_/, '').toLowerCase();
}

/** What a mask has beyond Docker's set and what it lacks, by name. */
function describeMask(hex: string | undefined): string {
  if (hex === undefined) return 'unreadable';
  const mask = BigInt(`0x${hex}`);
  const extra: string[] = [];
  const lacking: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    const has = (mask >> BigInt(bit)) & 1n;
    const want = (KEPT_MASK >> BigInt(bit)) & 1n;
    if (has && !want) extra.push(capName(bit));
    if (!has && want) lacking.push(capName(bit));
  }
  const parts = [hex];
  if (extra.length) parts.push(`${extra.length} too many (${extra.slice(0, 5).join(' ')}${extra.length > 5 ? ' ...' : ''})`);
  if (lacking.length) parts.push(`lacking ${lacking.join(' ')}`);
  return parts.join('; ');
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const capEff = readStatusField(pid, 'CapEff');
  const capBnd = readStatusField(pid, 'CapBnd');
  const noNewPrivs = readStatusField(pid, 'NoNewPrivs');

  // sethostname: must fail, and the name in the container's UTS namespace must stay.
  const renamed = await ctx.inContainer('hostname tslab-check-renamed', 10_000);
  const nameAfter = hostnameOf(pid);
  if (nameAfter !== undefined && nameAfter !== container.hostname) {
    // It worked: put the name back so the lesson container stays as the lab made it.
    try {
      execFileSync('nsenter', [`--uts=/proc/${pid}/ns/uts`, 'hostname', container.hostname], { stdio: 'ignore', timeout: 5000 });
    } catch {
      // Reported below anyway.
    }
  }

  // mount: must fail, and no new mount may appear on /mnt. The busybox root has no /mnt: make it first.
  const made = await ctx.inContainer('mkdir -p /mnt', 10_000);
  const hasMnt = fs.existsSync(`/proc/${pid}/root/mnt`);
  const mounted = hasMnt ? await ctx.inContainer('mount -t tmpfs t /mnt', 10_000) : undefined;
  const mntMounts = readMountinfo(pid).filter((m) => m.mountPoint === '/mnt').length;
  if (mounted?.code === 0 || mntMounts > 0) await ctx.inContainer('umount /mnt', 10_000);
  const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

  return [
    verdict(
      "the bounding set is Docker's 14 capabilities",
      capBnd === EXPECTED,
      `CapBnd ${describeMask(capBnd)}`,
      `CapBnd ${EXPECTED}`,
      'dropBoundingSet(keep) must call prctl(PR_CAPBSET_DROP, cap) for every cap from 0 to lastCapability() (inclusive) that keep does not include',
    ),
    verdict(
      'the effective set is the same 14',
      capEff === EXPECTED,
      `CapEff ${describeMask(capEff)}`,
      `CapEff ${EXPECTED}`,
      'the effective set follows the bounding set at execve: fix the bounding set first (the launcher execs the program after your steps)',
    ),
    verdict(
      'no_new_privs is set',
      noNewPrivs === '1',
      `NoNewPrivs ${noNewPrivs ?? '?'}`,
      'NoNewPrivs 1',
      'setNoNewPrivs() must call prctl(PR_SET_NO_NEW_PRIVS, 1)',
    ),
    verdict(
      'sethostname fails inside and the hostname stays',
      renamed.code !== 0 && nameAfter === container.hostname,
      `hostname exit status ${renamed.code}${renamed.code !== 0 ? ` (${lastLine(renamed.stderr)})` : ''}; the container's hostname ${nameAfter === undefined ? 'unreadable' : `"${nameAfter}"`}`,
      `a failing hostname (EPERM) and "${container.hostname}"`,
      'sethostname needs CAP_SYS_ADMIN: it must not be in the bounding set (it is not in keep)',
    ),
    verdict(
      'mount fails inside',
      hasMnt && mounted !== undefined && mounted.code !== 0 && mntMounts === 0,
      !hasMnt
        ? `could not make /mnt in the container (mkdir exit status ${made.code})`
        : `mount -t tmpfs t /mnt exit status ${mounted!.code}${mounted!.code !== 0 ? ` (${lastLine(mounted!.stderr)})` : ''}; mounts on /mnt: ${mntMounts}`,
      'a failing mount (EPERM) and no mount on /mnt',
      'mount needs CAP_SYS_ADMIN: it must not be in the bounding set (it is not in keep)',
    ),
  ];
};
