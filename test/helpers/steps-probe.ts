// A small program that runs one kernel step in its own process and prints what the kernel then shows, as
// one JSON line. test/kernel/steps.test.ts bundles it with esbuild and runs it, under `unshare` where a
// step changes a namespace: the steps change the calling process, which must never be the test worker.
//   node steps-probe.cjs CASE [ARG]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SyscallError } from '../../src/linux/error.js';
import { MS_BIND, MS_REC, mount } from '../../src/linux/mount.js';
import { getInterfaceFlags } from '../../src/linux/netdevice.js';
import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM, socket } from '../../src/linux/socket.js';
import { close } from '../../src/linux/fs.js';
import { dropBoundingSet, setNoNewPrivs } from '../../src/runtime/steps/capabilities.js';
import { newUtsNamespace, setHostname } from '../../src/runtime/steps/hostname.js';
import { bringUpInterface } from '../../src/runtime/steps/loopback.js';
import { makeMountsPrivate, mountProc, newMountNamespace } from '../../src/runtime/steps/mount-namespace.js';
import { spawnInNewPidNamespace } from '../../src/runtime/steps/pid-namespace.js';
import { pivotInto } from '../../src/runtime/steps/pivot-root.js';

function failure(fn: () => unknown): { code?: string; message: string } | null {
  try {
    fn();
    return null;
  } catch (err) {
    return { code: err instanceof SyscallError ? err.code : undefined, message: (err as Error).message };
  }
}

function loFlags(): number {
  const sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    return getInterfaceFlags(sock, 'lo');
  } finally {
    close(sock);
  }
}

const sharedMounts = (): number =>
  fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / shared:\d+/.test(l)).length;

const threadNs = (type: 'uts' | 'mnt') => fs.readlinkSync(`/proc/thread-self/ns/${type}`);

const pidNs = () => ({ pid: fs.readlinkSync('/proc/thread-self/ns/pid'), forChildren: fs.readlinkSync('/proc/thread-self/ns/pid_for_children') });

const cases: Record<string, (arg: string) => unknown> = {
  // under `unshare --net`
  loopback: () => {
    const before = loFlags();
    bringUpInterface('lo');
    return { before, after: loFlags(), missing: failure(() => bringUpInterface('tslabnosuch0')) };
  },
  // under `unshare --uts`, so that even a newUtsNamespace that did not unshare could not rename the host
  hostname: (name) => {
    const before = threadNs('uts');
    newUtsNamespace();
    const after = threadNs('uts');
    if (after === before) return { before, after };
    setHostname(name);
    return { before, after, hostname: os.hostname(), tooLong: failure(() => setHostname('h'.repeat(65))) };
  },
  // a plain child process: only its own thread's pid_for_children changes
  pid: () => {
    const before = pidNs();
    const pidInside = spawnInNewPidNamespace(() => execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
    const after = pidNs();
    const thrown = failure(() => spawnInNewPidNamespace(() => {
      throw new Error('spawn failed');
    }));
    return { before, pidInside, after, thrown, afterThrow: pidNs() };
  },
  // under `unshare --mount --propagation shared`, so that even a newMountNamespace that did not unshare could
  // not change the host's mounts
  mounts: (target) => {
    const nsBefore = threadNs('mnt');
    newMountNamespace();
    const nsAfter = threadNs('mnt');
    if (nsAfter === nsBefore) return { nsBefore, nsAfter };
    const sharedBefore = sharedMounts();
    makeMountsPrivate();
    const sharedAfter = sharedMounts();
    mountProc(target);
    const procAt = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === target);
    return { nsBefore, nsAfter, sharedBefore, sharedAfter, procAt, seesSelf: fs.existsSync(path.join(target, String(process.pid), 'status')) };
  },
  // under `unshare --mount` (private propagation)
  pivot: (rootfs) => {
    mount(rootfs, rootfs, null, MS_BIND | MS_REC);
    pivotInto(rootfs);
    return { root: fs.readdirSync('/').sort(), cwd: process.cwd(), oldPathGone: !fs.existsSync(rootfs) };
  },
  // a plain child process
  capabilities: () => {
    dropBoundingSet([0, 5]); // CAP_CHOWN, CAP_KILL
    setNoNewPrivs();
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    return { capBnd: /CapBnd:\s+(\w+)/.exec(status)![1], noNewPrivs: /NoNewPrivs:\s+(\d)/.exec(status)![1] };
  },
};

const [name, arg] = process.argv.slice(2);
const run = cases[name!];
if (!run) {
  process.stderr.write(`steps-probe: unknown case ${name}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(run(arg ?? ''))}\n`);
