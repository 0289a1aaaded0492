// Lesson 2: the UTS namespace. The container's uts link differs from the host's (newUtsNamespace unshared it;
// the launcher already refuses to go on when it did not), the hostname read from
// inside its UTS namespace is the one the lab asked for, and the host's hostname is what it was when the
// session started. Then the 64-byte rule, on setHostname alone in a UTS namespace of its own: a name of
// exactly 64 bytes (multibyte characters, so bytes and characters differ) is set unchanged, one of 65 is
// refused and leaves the hostname as it was.
import { hostnameOf } from '../kernel-state.js';
import { ownNamespace, probeInNewNamespaces, readText, requireContainer, verdict } from './common.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';

/** 29 two-byte characters and 6 one-byte ones: 64 bytes in 35 characters. */
const NAME_64 = `${'é'.repeat(29)}tslab6`;
/** One byte more. */
const NAME_65 = `${NAME_64}5`;
const BEFORE = 'tslab-check-before';

/** setHostname(name) in a new UTS namespace whose hostname was BEFORE; what it threw and the hostname after. */
async function trySetHostname(ctx: CheckContext, name: string): Promise<{ threw?: string; hostname?: string }> {
  const reply = await probeInNewNamespaces(ctx.build, ['--uts'], 'setHostname', [name], `echo ${BEFORE} > /proc/sys/kernel/hostname`, 'cat /proc/sys/kernel/hostname');
  return { threw: reply.ok ? undefined : reply.error, hostname: reply.after[0] };
}

async function byteLimitResults(ctx: CheckContext): Promise<CheckResult[]> {
  const at64 = await trySetHostname(ctx, NAME_64);
  const at65 = await trySetHostname(ctx, NAME_65);
  return [
    verdict(
      `setHostname accepts a name of exactly 64 bytes and sets it unchanged ("${NAME_64}": 35 characters)`,
      at64.threw === undefined && at64.hostname === NAME_64,
      at64.threw !== undefined ? `it threw: ${at64.threw}` : `the hostname became "${at64.hostname ?? '?'}"`,
      `no error, and the hostname "${NAME_64}"`,
      at64.threw !== undefined
        ? 'the kernel takes up to 64 bytes: refuse only a name ABOVE 64 bytes (> 64, not >= 64), counted with Buffer.byteLength(name)'
        : 'pass `name` itself to sethostname: no cutting, no other name',
    ),
    verdict(
      'setHostname refuses a name of 65 bytes (throws) and leaves the hostname as it was',
      at65.threw !== undefined && at65.hostname === BEFORE,
      at65.threw !== undefined ? `it threw: ${at65.threw}; the hostname stayed "${at65.hostname ?? '?'}"` : `no error; the hostname became "${at65.hostname ?? '?'}"`,
      `an Error, and the hostname still "${BEFORE}"`,
      'a name above 64 bytes must be refused with an Error, never cut to fit: a container would run under a name nobody gave it',
    ),
  ];
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const inside = hostnameOf(container.pid);
  // This process is in the host's UTS namespace: procfs answers for it.
  const hostNow = (readText('/proc/sys/kernel/hostname') ?? '?').trim();
  return [
    ownNamespace(
      container.pid,
      'uts',
      'the container has a UTS namespace of its own',
      'newUtsNamespace() must call unshare(CLONE_NEWUTS); the lab calls it before setHostname. Then restart the container with the enable cell',
    ),
    verdict(
      `its hostname is ${container.hostname}`,
      inside === container.hostname,
      inside === undefined ? 'could not read it (nsenter -u failed)' : `"${inside}"`,
      `"${container.hostname}"`,
      inside === ctx.host.hostname ? 'it still has the host\'s name: setHostname must call sethostname(name) after its length check' : 'setHostname(name) should pass `name` unchanged to sethostname',
    ),
    verdict(
      'the host keeps its hostname',
      hostNow === ctx.host.hostname,
      `"${hostNow}"`,
      `"${ctx.host.hostname}" (as when the lab started)`,
      `set it back with: hostname ${ctx.host.hostname}. sethostname changes the caller's UTS namespace: only call it in setHostname, after newUtsNamespace() has called unshare(CLONE_NEWUTS)`,
    ),
    ...(await byteLimitResults(ctx)),
  ];
};
