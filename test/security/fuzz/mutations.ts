// Hostile changes to a valid busybox config.json, drawn from a seeded generator so every run (and every
// failure) can be replayed: case N of seed S is always the same config.
//
// A case is one to three mutations. Most change the parsed config; some change the bundle around it
// (symlinks in the rootfs, a FIFO or /dev/zero as config.json) or the JSON text itself (numbers a double
// cannot hold, deep nesting). `runcUnsafe` marks what runc 1.1.5 is known to let through to the host (a
// hostname set in the host's own UTS namespace joined by path, limits on an occupied cgroup): the runc
// sample skips those rather than change the shared machine.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A small, fast, seedable PRNG (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Where a case's hostile paths point: everything here belongs to the fuzzer. */
export interface FuzzContext {
  bundle: string;
  /** A tree nothing may change; mutations reach it only by traversal or symlink. */
  canary: string;
  /** A directory mutations may bind-mount (it is theirs to change). */
  bindSource: string;
  /** A FIFO nobody writes to. */
  fifo: string;
  /** A network namespace of our own (held by a sleeping process). */
  otherNetns: string;
  /** A decoy cgroup path (relative to each hierarchy root) that holds a canary process. */
  decoyCgroup: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface Mutation {
  label: string;
  runcUnsafe?: boolean;
  /** Changes the config (and maybe the bundle); may return a replacement for the whole file's text. */
  apply(spec: Json, ctx: FuzzContext): void;
  /** Changes the JSON text after it is written (raw numbers, nesting, bytes). */
  text?(text: string): string;
  /** Replaces config.json by something that is not a file of JSON. */
  file?(configPath: string, ctx: FuzzContext): void;
}

/** A number written into the JSON text exactly as given (JSON.stringify cannot write 2^53+1 or NaN). */
const RAW = (literal: string): string => `@@RAW@@${literal}@@`;
export function unrawText(text: string): string {
  return text.replace(/"@@RAW@@(.*?)@@"/g, '$1');
}

const HOSTILE_NUMBERS = [
  -1, 0, 1, 2147483647, 2147483648, 4294967295, 4294967296, -2147483649, 99999999999, 2 ** 53 - 1,
  RAW('9007199254740993'), RAW('18446744073709551615'), RAW('18446744073709551616'), RAW('-9223372036854775809'),
  RAW('1e3'), RAW('1.5'), RAW('-0'), RAW('1e400'), RAW('NaN'), RAW('Infinity'), RAW('0x10'), '1', '',
];
const HOSTILE_VALUES: Json[] = [
  null, true, false, {}, [], [null], [[]], 'x', '', '../../..', '/proc/self/fd/3', '\u0000', 'a'.repeat(5000), JSON.parse('{"__proto__": 1}'),
  ...HOSTILE_NUMBERS,
];
const HOSTILE_PATHS = [
  '', '.', 'relative/path', '/../../..', '/../../../canary', '/proc/self/fd/3', '/proc/self/cwd', '/proc/1/root',
  '/dev/null', '/etc/passwd', '/nonexistent/deep/dir', '/bin/busybox', '//', '/a\u0000b', `/${'x'.repeat(300)}`,
  `/${'d/'.repeat(200)}`, '/sys/fs/cgroup', '/proc/sys/kernel',
];

/** The namespace entry of a type, added if missing. */
const ns = (spec: Json, type: string): Json => {
  let entry = spec.linux.namespaces.find((n: Json) => n?.type === type);
  if (!entry) spec.linux.namespaces.push((entry = { type }));
  return entry;
};
const dropNs = (spec: Json, type: string): void => {
  spec.linux.namespaces = spec.linux.namespaces.filter((n: Json) => n?.type !== type);
};
/** Namespace paths that are the test process's own: the host's namespaces. */
const hostNs = (type: string): string => `/proc/${process.pid}/ns/${type === 'network' ? 'net' : type === 'mount' ? 'mnt' : type}`;

/** rootfs/link-out: a symlink leading out of the rootfs to the canary (absolute, or by climbing with ".."). */
function linkOut(ctx: FuzzContext, climbing: boolean): void {
  const link = path.join(ctx.bundle, 'rootfs', 'link-out');
  if (!fs.existsSync(link)) fs.symlinkSync(climbing ? `../../../../../../../../..${ctx.canary}` : ctx.canary, link);
}

/** Every JSON path of a value, for mutations that hit anything. */
function allPaths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (value && typeof value === 'object') {
    for (const key of Object.keys(value)) allPaths(value[key], [...prefix, Array.isArray(value) ? Number(key) : key], out);
  }
  return out;
}

function setAt(spec: Json, at: (string | number)[], value: Json): void {
  let cur = spec;
  for (const k of at.slice(0, -1)) cur = cur[k];
  cur[at[at.length - 1]] = value;
}

/** The mutation families; each draws its details from the generator. */
export function drawMutation(rng: Rng): Mutation {
  const family = rng.pick(FAMILIES);
  return family(rng);
}

const FAMILIES: ((rng: Rng) => Mutation)[] = [
  // Any field: a hostile value of any type.
  (rng) => {
    const value = rng.pick(HOSTILE_VALUES);
    let where = '';
    return {
      get label() {
        return `${where} = ${JSON.stringify(value)?.slice(0, 40)}`;
      },
      apply(spec) {
        const paths = allPaths(spec).filter((p) => p.length > 0);
        const at = rng.pick(paths);
        where = at.join('.');
        setAt(spec, at, value);
      },
    };
  },
  // Any field removed, or an unknown or case-folded one added.
  (rng) => {
    let where = '';
    return {
      get label() {
        return `remove ${where}`;
      },
      apply(spec) {
        const at = rng.pick(allPaths(spec).filter((p) => p.length > 0 && typeof p[p.length - 1] === 'string'));
        where = at.join('.');
        let cur = spec;
        for (const k of at.slice(0, -1)) cur = cur[k];
        delete cur[at[at.length - 1]];
      },
    };
  },
  // Users and groups.
  (rng) => {
    const field = rng.pick(['uid', 'gid', 'additionalGids', 'umask']);
    const n = rng.pick([4294967295, 2147483648, 99999999999, -1, 65534, 0o7777, 2147483647]);
    return {
      label: `process.user.${field} = ${n}`,
      apply(spec) {
        spec.process.user[field] = field === 'additionalGids' ? [0, n] : n;
      },
    };
  },
  // Working directory.
  (rng) => {
    const cwd = rng.pick(HOSTILE_PATHS);
    return { label: `process.cwd = ${JSON.stringify(cwd).slice(0, 50)}`, apply: (spec) => void (spec.process.cwd = cwd) };
  },
  // Program and environment.
  (rng) => {
    const choice = rng.int(5);
    const args = [[], [''], ['/nonexistent'], ['../../bin/true'], ['true', 'a'.repeat(200_000)], ['/proc/self/fd/3'], ['tr\u0000ue']][rng.int(7)];
    const env = [['=x'], ['A'], ['A=\u0000'], Array.from({ length: 5000 }, (_, i) => `V${i}=x`), ['PATH=/nonexistent']][rng.int(5)];
    return {
      label: choice < 3 ? `process.args = ${JSON.stringify(args).slice(0, 40)}` : `process.env = ${JSON.stringify(env).slice(0, 40)}`,
      apply(spec) {
        if (choice < 3) spec.process.args = args;
        else spec.process.env = env;
      },
    };
  },
  // Mounts: traversal, symlinks out of the rootfs, odd types and options.
  (rng) => {
    const kind = rng.int(6);
    const dest = rng.pick(['/../../../canary', '/mnt/../../..', '/link-out', '/link-out/sub', '/proc', '/dev', '/etc/passwd', '/', 'relative', '/sys']);
    const type = rng.pick(['tmpfs', 'bind', 'proc', 'sysfs', 'cgroup', 'devpts', 'mqueue', 'nonsense', '']);
    const options = rng.pick([[], ['rbind', 'rw'], ['size=-1'], ['mode=99999'], ['uid=4294967295'], ['bogus'], ['rro'], ['', ','], ['tmpcopyup'], ['ro', 'remount']]);
    return {
      label: `mount ${kind} ${type} on ${dest} ${JSON.stringify(options)}`,
      // runc 1.1.5 binds the host's "/" over the container's root when a destination climbs to it (case 145),
      // then replaces the host's /dev/ptmx while building /dev: never hand runc a bind of the host's root.
      runcUnsafe: kind === 5,
      apply(spec, ctx) {
        // A symlink in the rootfs that leads out of it: following it on the host would mount over the canary.
        linkOut(ctx, kind % 2 === 1);
        // Host directories are bound only from our own bind source, or "/" read-only: a writable bind of the
        // host's root is the config's own wish, and would let the runtime's mkdirs land on the shared machine.
        const source = kind === 5 ? '/' : kind === 4 ? '/link-out' : type === 'bind' || kind === 3 ? ctx.bindSource : type || 'none';
        spec.mounts.push({ destination: dest, type, source, options: kind === 5 ? ['rbind', 'ro'] : options });
      },
    };
  },
  // Devices: over existing files, through symlinks, numbers that would wrap.
  (rng) => {
    const devPath = rng.pick(['/bin/busybox', '/link-out/dev', '/dev/../../canary/x', '/dev/../../../canary/y', 'dev/rel', '/dev/ok', '/etc']);
    const major = rng.pick([1, 4096, -1, 2 ** 32, 2 ** 40]);
    const minor = rng.pick([3, 2 ** 20, -5, 2 ** 32]);
    const extra = rng.pick([{}, { fileMode: 0o10666 }, { uid: 4294967295 }, { gid: 2147483648 }, { fileMode: 0o4777 }]);
    const type = rng.pick(['c', 'b', 'p', 'u', 'x']);
    return {
      label: `device ${type} ${devPath} ${major}:${minor} ${JSON.stringify(extra)}`,
      apply(spec, ctx) {
        linkOut(ctx, false);
        spec.linux.devices = [{ path: devPath, type, major, minor, ...extra }];
      },
    };
  },
  // The root filesystem.
  (rng) => {
    // Never the host's own directories ("/", "/tmp"): a runtime makes mount points and device nodes in the
    // rootfs, on the shared machine. A climb out of the bundle lands in the bind source, which is ours.
    const choice = rng.pick(['/nonexistent', 'link', 'file', 'fifo', '/dev/zero', '', 'rootfs/../rootfs', 'climb', '/proc/self/cwd']);
    return {
      label: `root.path = ${choice}`,
      apply(spec, ctx) {
        if (choice === 'link') fs.symlinkSync('rootfs', path.join(ctx.bundle, 'link'));
        if (choice === 'file') fs.writeFileSync(path.join(ctx.bundle, 'file'), 'x');
        spec.root.path = choice === 'fifo' ? ctx.fifo : choice === 'climb' ? path.relative(ctx.bundle, ctx.bindSource) : choice;
        if (rng.chance(0.3)) spec.root.readonly = true;
      },
    };
  },
  // config.json that is not a file of JSON.
  (rng) => {
    const choice = rng.pick(['fifo', 'zero', 'dir', 'big', 'deep', 'bom', 'truncated', 'binary', 'empty', 'null-bytes', 'urandom']);
    return {
      label: `config.json is ${choice}`,
      apply() {},
      text: (text) => {
        if (choice === 'big') return text.replace('"ociVersion"', `"annotations": {"big": "${'a'.repeat(5 * 1024 * 1024)}"}, "ociVersion"`);
        if (choice === 'deep') return text.replace('"ociVersion"', `"x": ${'['.repeat(200_000)}${']'.repeat(200_000)}, "ociVersion"`);
        if (choice === 'bom') return `\ufeff${text}`;
        if (choice === 'truncated') return text.slice(0, Math.floor(text.length / 2));
        if (choice === 'binary') return '\u0000\u0001\u00ff{';
        if (choice === 'empty') return '';
        if (choice === 'null-bytes') return text.replace('"sh"', '"s\u0000h"');
        return text;
      },
      file: ['fifo', 'zero', 'dir', 'urandom'].includes(choice)
        ? (configPath, ctx) => {
            fs.rmSync(configPath);
            if (choice === 'fifo') fs.symlinkSync(ctx.fifo, configPath);
            if (choice === 'zero') fs.symlinkSync('/dev/zero', configPath);
            if (choice === 'urandom') fs.symlinkSync('/dev/urandom', configPath);
            if (choice === 'dir') fs.mkdirSync(configPath);
          }
        : undefined,
    };
  },
  // Namespaces: joined by hostile paths, missing, duplicated, unknown.
  (rng) => {
    const type = rng.pick(['network', 'uts', 'ipc', 'pid', 'mount', 'cgroup']);
    const choice = rng.int(9);
    return {
      label: `namespace ${type} ${['host path', '/proc/self path', 'fifo', 'regular file', 'directory', 'wrong type', 'other netns', 'removed', 'duplicate/unknown'][choice]}`,
      runcUnsafe: choice === 0 || choice === 1,
      apply(spec, ctx) {
        const entry = ns(spec, type);
        if (choice === 0) entry.path = hostNs(type);
        if (choice === 1) entry.path = `/proc/self/ns/${hostNs(type).split('/').pop()}`;
        if (choice === 2) entry.path = ctx.fifo;
        if (choice === 3) entry.path = '/etc/hostname';
        if (choice === 4) entry.path = '/proc';
        if (choice === 5) entry.path = hostNs(type === 'uts' ? 'ipc' : 'uts');
        if (choice === 6) entry.path = ctx.otherNetns;
        if (choice === 7) dropNs(spec, type);
        if (choice === 8) spec.linux.namespaces.push(rng.pick([{ type }, { type: 'user' }, { type: 'time' }, { type: 'net' }, { type: 'bogus' }]));
      },
    };
  },
  // Sysctls, with and without the namespaces that isolate them.
  (rng) => {
    const key = rng.pick([
      'net.ipv4.ip_forward', 'net/ipv4/ip_forward', 'net.ipv4.conf.all.forwarding', 'net.core.somaxconn', 'kernel.shmmax', 'kernel.msgmax',
      'fs.mqueue.msg_max', 'kernel.hostname', 'kernel.domainname', 'kernel.panic', 'vm.swappiness', 'net.ipv4.conf.all/../../../kernel/hostname',
      'net.ipv4.conf.all/../../../../kernel/domainname', '', 'net..x', '../../kernel/panic', 'net.ipv4.nonexistent',
    ]);
    const value = rng.pick(['1', '0', 'tslabfuzz', '99999999999999999999', '', 'a\u0000b', '-1']);
    const nsChoice = rng.int(4);
    return {
      label: `sysctl ${JSON.stringify(key)}=${JSON.stringify(value)} ${['', 'without its namespace', 'in the host namespace by path', 'in another netns'][nsChoice]}`,
      runcUnsafe: nsChoice === 2,
      apply(spec, ctx) {
        spec.linux.sysctl = { ...(spec.linux.sysctl ?? {}), [key]: value };
        const type = key.startsWith('net') ? 'network' : /^(kernel\.(msg|sem|shm)|fs\.mqueue)/.test(key) ? 'ipc' : 'uts';
        if (nsChoice === 1) dropNs(spec, type);
        if (nsChoice === 2) ns(spec, type).path = hostNs(type);
        if (nsChoice === 3) ns(spec, 'network').path = ctx.otherNetns;
      },
    };
  },
  // Hostname and domainname.
  (rng) => {
    const field = rng.pick(['hostname', 'domainname']);
    const value = rng.pick(['tslabfuzz', 'h'.repeat(65), 'a\u0000b', 'a/b', '', 'x'.repeat(64)]);
    const where = rng.int(3);
    return {
      label: `${field} = ${JSON.stringify(value).slice(0, 20)} ${['', 'without UTS', 'in the host UTS by path'][where]}`,
      runcUnsafe: where === 2,
      apply(spec) {
        spec[field] = value;
        if (where === 1) dropNs(spec, 'uts');
        if (where === 2) ns(spec, 'uts').path = hostNs('uts');
      },
    };
  },
  // Hooks.
  (rng) => {
    const stage = rng.pick(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    const hookPath = rng.pick(['/bin/true', '/bin/false', '/nonexistent', 'relative', '/proc', '/dev/null', 'fifo', '/bin/busybox']);
    const timeout = rng.pick([undefined, 0, -1, 1, 2 ** 31, 2 ** 53 - 1, RAW('1e3')]);
    return {
      label: `hook ${stage} ${hookPath} timeout ${timeout}`,
      apply(spec, ctx) {
        spec.hooks = { [stage]: [{ path: hookPath === 'fifo' ? ctx.fifo : hookPath, args: hookPath === '/bin/busybox' ? ['true'] : undefined, timeout }] };
      },
    };
  },
  // Resource limits.
  (rng) => {
    const type = rng.pick(['RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_AS', 'nofile', 'RLIMIT_BOGUS', 'RLIMIT_CORE', '']);
    const soft = rng.pick([0, 1, 1024, 2 ** 40, RAW('18446744073709551615'), RAW('9007199254740993'), -1]);
    const hard = rng.pick([0, 1024, 2 ** 40, RAW('18446744073709551615'), RAW('18446744073709551614')]);
    return { label: `rlimit ${type} ${soft}/${hard}`, apply: (spec) => spec.process.rlimits.push({ type, soft, hard }) };
  },
  // Capabilities, seccomp, security labels.
  (rng) => {
    const choice = rng.int(6);
    return {
      label: `security: ${['a bounding capability', 'ambient CAP_SYS_ADMIN', 'seccomp', 'apparmorProfile', 'selinuxLabel', 'noNewPrivileges'][choice]}`,
      apply(spec) {
        if (choice === 0) spec.process.capabilities.bounding.push(rng.pick(['CAP_BOGUS', 'cap_kill', '', 'CAP_SYS_ADMIN', 'ALL']));
        if (choice === 1) spec.process.capabilities.ambient = ['CAP_SYS_ADMIN'];
        if (choice === 2) spec.linux.seccomp = rng.pick([{}, { defaultAction: 'SCMP_ACT_ALLOW' }, null]);
        if (choice === 3) spec.process.apparmorProfile = 'tslab-fuzz';
        if (choice === 4) spec.process.selinuxLabel = 'system_u:system_r:container_t:s0';
        if (choice === 5) spec.process.noNewPrivileges = rng.pick([true, 'yes', 1]);
      },
    };
  },
  // Process numbers: oom score, console.
  (rng) => {
    const n = rng.pick([-1001, 1001, -1000, 1000, 2 ** 31, RAW('9223372036854775807')]);
    const choice = rng.int(2);
    return {
      label: choice ? `oomScoreAdj ${n}` : `consoleSize ${n}`,
      apply(spec) {
        if (choice) spec.process.oomScoreAdj = n;
        else spec.process.consoleSize = { height: n, width: 80 };
      },
    };
  },
  // cgroups: limits at the edges, paths that climb out or into someone else's cgroup.
  (rng) => {
    const choice = rng.int(9);
    const n = rng.pick([-2, -1, 0, 1, 999, 1000, 1_000_001, 2 ** 40, RAW('9223372036854775807'), RAW('9007199254740993')]);
    return {
      // runc 1.1.5 joins an occupied cgroup with a warning and sets its limits: not on the decoy's behalf.
      runcUnsafe: choice === 8,
      label: `resources ${['memory.limit', 'memory.swap', 'pids.limit', 'cpu.shares', 'cpu.quota', 'cpu.period', 'cpu.cpus', 'devices', 'cgroupsPath'][choice]} ${n}`,
      apply(spec, ctx) {
        const r = spec.linux.resources;
        if (choice === 0) r.memory = { limit: n };
        if (choice === 1) r.memory = { limit: 64 * 1024 * 1024, swap: n };
        if (choice === 2) r.pids = { limit: n };
        if (choice === 3) r.cpu = { shares: n };
        if (choice === 4) r.cpu = { quota: n, period: 100000 };
        if (choice === 5) r.cpu = { period: n };
        if (choice === 6) r.cpu = { cpus: rng.pick(['0-999', 'abc', '', '0', '1-0']), mems: rng.pick(['', '5', 'x']) };
        if (choice === 7) r.devices = [{ allow: rng.pick([true, false]), type: rng.pick(['a', 'c', 'x']), major: n, minor: rng.pick([-1, 3, 2 ** 33]), access: rng.pick(['rwm', 'x', '', 'rrr']) }];
        if (choice === 8) {
          spec.linux.cgroupsPath = rng.pick([ctx.decoyCgroup, `/a/../${ctx.decoyCgroup}`, `${ctx.decoyCgroup}/../..`, '../..', 'relative/path', 'a:b:c', '/x\u0000y', '//']);
        }
      },
    };
  },
  // Masked and read-only paths, propagation.
  (rng) => {
    const choice = rng.int(3);
    const p = rng.pick([...HOSTILE_PATHS, '/link-out', '/link-out/file']);
    const propagation = rng.pick(['shared', 'rshared', 'slave', 'private', 'unbindable', 'bogus', '']);
    return {
      label: choice === 2 ? `rootfsPropagation ${propagation}` : `${choice ? 'readonlyPaths' : 'maskedPaths'} ${JSON.stringify(p).slice(0, 40)}`,
      apply(spec, ctx) {
        linkOut(ctx, true);
        if (choice === 0) spec.linux.maskedPaths.push(p);
        if (choice === 1) spec.linux.readonlyPaths.push(p);
        if (choice === 2) spec.linux.rootfsPropagation = propagation;
      },
    };
  },
  // Versions, annotations, odd features.
  (rng) => {
    const choice = rng.int(6);
    return {
      label: `misc ${['ociVersion', 'annotations', 'timeOffsets', 'personality', 'uidMappings', 'terminal'][choice]}`,
      apply(spec) {
        if (choice === 0) spec.ociVersion = rng.pick(['2.0.0', '', '1', 'x', '1.0.2-dev']);
        if (choice === 1) spec.annotations = { ...JSON.parse('{"__proto__": "x"}'), constructor: 'y', ['k'.repeat(10_000)]: 'v', 'org.opencontainers.x': 'a'.repeat(100_000) };
        if (choice === 2) spec.linux.timeOffsets = { monotonic: { secs: 1 } };
        if (choice === 3) spec.linux.personality = { domain: 'LINUX32' };
        if (choice === 4) spec.linux.uidMappings = [{ containerID: 0, hostID: rng.pick([1000, 4294967295]), size: rng.pick([1, 4294967295]) }];
        if (choice === 5) spec.process.terminal = true;
      },
    };
  },
];
