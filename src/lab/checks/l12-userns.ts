// Lesson 12: user namespaces. Read back from /proc/<pid> of the container's init: its user namespace is not
// the host's, uid_map and gid_map are "0 100000 65536", setgroups is "deny"; its uid and gid are 100000 on
// the host and 0 inside; a file it makes belongs to 100000:100000 on the host (stat from here); a file of the
// host's root in its rootfs is nobody's inside and its root cannot write it; and a process of its user
// namespace (nsenter, root there with every capability) can name the container's UTS namespace but not
// the host's. idMapText() is also tried alone on two ranges, the lab's own map being one line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { execFileSync } from 'node:child_process';
import { HOST_OWNED_FILE, HOST_OWNED_TEXT, LESSON_USERNS } from '../lesson-container.js';
import { idMapProblems, mapProblem, rangeLines, readIdMaps, setgroupsProblem } from '../container/id-maps-readback.js';
import type { IdRange } from '../container/plan.js';
import { lastCapability } from '../../linux/capabilities.js';
import { namespaceLink, readStatusField } from '../../linux/proc.js';
import { readText, requireContainer, verdict } from './common.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';

const ROOT_OUTSIDE = LESSON_USERNS.uids[0].outside;
const GROUP_OUTSIDE = LESSON_USERNS.gids[0].outside;
const OWNED_PROBE = '/tmp/.tslab-check-owner';
const RENAMED = 'tslab-check-renamed';
const TWO_RANGES: IdRange[] = [
  { inside: 0, outside: 200000, count: 1000 },
  { inside: 1000, outside: 1000, count: 1 },
];

const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

async function formatResult(ctx: CheckContext): Promise<CheckResult> {
  const expected = rangeLines(TWO_RANGES);
  let text: unknown;
  let threw: string | undefined;
  try {
    text = await ctx.probe('idMapText', [TWO_RANGES]);
  } catch (err) {
    threw = err instanceof Error ? err.message : String(err);
  }
  const lines = typeof text === 'string' ? text.split('\n').map((l) => l.trim().split(/\s+/).join(' ')).filter(Boolean) : [];
  return verdict(
    'idMapText() writes one "inside outside count" line per range (tried on two ranges)',
    threw === undefined && lines.join(',') === expected.join(','),
    threw !== undefined ? `it threw: ${threw}` : `${JSON.stringify(text)}`,
    JSON.stringify(`${expected.join('\n')}\n`),
    mapProblem('uid_map', lines, TWO_RANGES) ?? 'one line per range, "\\n" after each',
  );
}

/** The host's hostname, put back if a check renamed it (it must not have). */
function hostnameKept(before: string): boolean {
  const now = os.hostname();
  if (now === before) return true;
  try {
    execFileSync('hostname', [before], { stdio: 'ignore', timeout: 5000 });
  } catch {
    // Reported by the failing result.
  }
  return false;
}

/** The maps and setgroups, as the kernel holds them. */
function mapResults(pid: number): CheckResult[] {
  const seen = readIdMaps(pid);
  const uidProblem = mapProblem('uid_map', seen.uid, LESSON_USERNS.uids);
  const gidProblem = mapProblem('gid_map', seen.gid, LESSON_USERNS.gids);
  return [
    verdict(
      "uid_map maps the namespace's 0..65535 to the host's 100000..165535",
      !uidProblem,
      `/proc/${pid}/uid_map: ${seen.uid.join(', ') || 'empty'}`,
      rangeLines(LESSON_USERNS.uids).join(', '),
      uidProblem ?? '',
    ),
    verdict('setgroups is "deny", written before gid_map', !setgroupsProblem(seen), `/proc/${pid}/setgroups: ${seen.setgroups ?? 'unreadable'}`, 'deny', setgroupsProblem(seen) ?? ''),
    verdict(
      "gid_map maps the namespace's 0..65535 to the host's 100000..165535",
      !gidProblem,
      `/proc/${pid}/gid_map: ${seen.gid.join(', ') || 'empty'}`,
      rangeLines(LESSON_USERNS.gids).join(', '),
      gidProblem ?? '',
    ),
  ];
}

/** Root inside, 100000 outside: the same process seen from both sides, and a file it makes, stat()ed from the host. */
async function idResults(ctx: CheckContext, pid: number, hint: string): Promise<CheckResult[]> {
  const uidOutside = readStatusField(pid, 'Uid')?.split(/\s+/)[0];
  const gidOutside = readStatusField(pid, 'Gid')?.split(/\s+/)[0];
  const ids = await ctx.inContainer('echo "$(id -u) $(id -g)"', 10_000);
  const idsInside = ids.code === 0 ? ids.stdout.trim() : `id failed (${lastLine(ids.stderr)})`;
  const onHost = `/proc/${pid}/root${OWNED_PROBE}`;
  const made = await ctx.inContainer(`rm -f ${OWNED_PROBE} && touch ${OWNED_PROBE}`, 10_000);
  let owner: string;
  try {
    const st = fs.statSync(onHost);
    owner = `${st.uid}:${st.gid}`;
  } catch {
    owner = made.code === 0 ? 'not found' : `touch failed (${lastLine(made.stderr)})`;
  }
  fs.rmSync(onHost, { force: true });
  return [
    verdict(
      `the container's root is uid and gid 0 inside, ${ROOT_OUTSIDE} on the host`,
      uidOutside === String(ROOT_OUTSIDE) && gidOutside === String(GROUP_OUTSIDE) && idsInside === '0 0',
      `inside: ${idsInside}; on the host (/proc/${pid}/status): uid ${uidOutside ?? '?'}, gid ${gidOutside ?? '?'}`,
      `inside: 0 0; on the host: uid ${ROOT_OUTSIDE}, gid ${GROUP_OUTSIDE}`,
      hint,
    ),
    verdict(
      `a file the container's root makes belongs to ${ROOT_OUTSIDE}:${GROUP_OUTSIDE} on the host`,
      owner === `${ROOT_OUTSIDE}:${GROUP_OUTSIDE}`,
      `touch ${OWNED_PROBE} inside, stat on the host: ${owner}`,
      `${ROOT_OUTSIDE}:${GROUP_OUTSIDE}`,
      hint,
    ),
  ];
}

/** A file of the host's root: nobody's inside, and DAC_OVERRIDE does not reach an owner the namespace has no id for. */
async function hostFileResult(ctx: CheckContext, pid: number): Promise<CheckResult> {
  const hostFile = `/proc/${pid}/root/${HOST_OWNED_FILE}`;
  const listed = await ctx.inContainer(`ls -ln /${HOST_OWNED_FILE}`, 10_000);
  const wrote = await ctx.inContainer(`echo tslab-check >> /${HOST_OWNED_FILE}`, 10_000);
  const textAfter = readText(hostFile);
  if (textAfter !== undefined && textAfter !== HOST_OWNED_TEXT) fs.writeFileSync(hostFile, HOST_OWNED_TEXT);
  const ownerInside = listed.stdout.trim().split(/\s+/).slice(2, 4).join(':');
  return verdict(
    "a file of the host's root is nobody's inside, and the container's root cannot write it",
    wrote.code !== 0 && textAfter === HOST_OWNED_TEXT && ownerInside === '65534:65534',
    `ls -ln /${HOST_OWNED_FILE} inside: owner ${ownerInside || '?'}; echo >> it: exit status ${wrote.code}${wrote.code !== 0 ? ` (${lastLine(wrote.stderr)})` : ''}; the file ${textAfter === HOST_OWNED_TEXT ? 'unchanged' : 'changed'}`,
    'owner 65534:65534 (unmapped), a failing write (EACCES), the file unchanged',
    'host uid 0 must not be in the map: map only the range the container owns (100000..165535 outside)',
  );
}

/** Root of the namespace, every capability in it: its own UTS namespace yes, the host's no. */
async function utsResult(ctx: CheckContext, pid: number, containerHostname: string): Promise<CheckResult> {
  const hostname = os.hostname();
  const full = ((1n << BigInt(lastCapability() + 1)) - 1n).toString(16).padStart(16, '0');
  const tried = await ctx.onHost(`nsenter --target ${pid} --user -- sh -c 'grep CapEff /proc/self/status; hostname ${RENAMED}'`, 10_000);
  const kept = hostnameKept(hostname);
  const own = await ctx.onHost(`nsenter --target ${pid} --user --uts -- hostname ${containerHostname}`, 10_000);
  const capEff = /CapEff:\s*([0-9a-f]+)/.exec(tried.stdout)?.[1];
  return verdict(
    "root of the container's user namespace, with every capability there, can name the container's UTS namespace but not the host's",
    capEff === full && tried.code !== 0 && kept && own.code === 0,
    `CapEff ${capEff ?? '?'}; hostname in the host's UTS namespace: exit status ${tried.code}${tried.code !== 0 ? ` (${lastLine(tried.stderr)})` : ''}, the host ${kept ? 'kept its name' : `was renamed (the check put "${hostname}" back)`}; in the container's: exit status ${own.code}${own.code !== 0 ? ` (${lastLine(own.stderr)})` : ''}`,
    `CapEff ${full}, a failing hostname (EPERM) on the host, a working one in the container`,
    "a capability counts only in namespaces its user namespace owns: the host's UTS namespace belongs to the host's user namespace",
  );
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const mine = namespaceLink(pid, 'user');
  const hostNs = namespaceLink('self', 'user');
  const own = verdict(
    'the container has a user namespace of its own',
    mine !== undefined && mine !== hostNs,
    `its user namespace ${mine ?? 'unreadable'}, the host's ${hostNs ?? '?'}`,
    'two different user namespaces',
    'the lab starts the init with unshare --user; rebuild with the "switch the feature on" cell',
  );
  // Without a user namespace of its own, nsenter --user below would act in the host's.
  if (!own.ok) return [own];
  const problems = idMapProblems(readIdMaps(pid), LESSON_USERNS);
  const idHint = problems[0] ?? 'the kernel stores host ids: 0 inside is the OUTSIDE field of the map line whose INSIDE is 0';
  return [
    own,
    ...mapResults(pid),
    ...(await idResults(ctx, pid, idHint)),
    await hostFileResult(ctx, pid),
    await utsResult(ctx, pid, container.hostname),
    await formatResult(ctx),
  ];
};
