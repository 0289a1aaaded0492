// tslab-runtime: runc's command line, flag for flag. Parses, calls the runtime, prints; nothing more.
// Subcommands load their modules on demand so each invocation pays only for what it uses.
import { type FlagSpec, type ParsedArgs, UsageError, flagString, flagValues, parseArgs } from './args.js';
import { Logger } from './log.js';
import { formatTable } from './table.js';
import { writeErr, writeOut } from './output.js';
import type { UpdateFlag } from '../runtime/operations/update.js';

const VERSION = '0.1.0';
const SPEC_VERSION = '1.2.0';

const GLOBAL_FLAGS: FlagSpec[] = [
  { names: ['root'], takesValue: true },
  { names: ['log'], takesValue: true },
  { names: ['log-format'], takesValue: true },
  { names: ['debug'], takesValue: false },
  { names: ['systemd-cgroup'], takesValue: false },
  { names: ['version', 'v'], takesValue: false },
  { names: ['help', 'h'], takesValue: false },
];

const CREATE_FLAGS: FlagSpec[] = [
  { names: ['bundle', 'b'], takesValue: true },
  { names: ['pid-file'], takesValue: true },
  { names: ['console-socket'], takesValue: true },
  { names: ['no-pivot'], takesValue: false },
  { names: ['no-new-keyring'], takesValue: false },
  { names: ['preserve-fds'], takesValue: true },
];

interface Command {
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** How many positional arguments: [min, max]. */
  arity: [number, number];
  /** Changes kernel state (namespaces, mounts, cgroups, signals), which tslab-runtime does only as root. */
  needsRoot?: boolean;
  run(args: ParsedArgs, ctx: Context): Promise<number> | number;
}

interface Context {
  root: string;
  log: Logger;
}

async function store(ctx: Context) {
  const { StateStore } = await import('../runtime/state/store.js');
  return new StateStore(ctx.root);
}

function createOptions(args: ParsedArgs) {
  const preserve = flagString(args, 'preserve-fds');
  if (preserve !== undefined && !/^\d+$/.test(preserve)) throw new UsageError(`invalid value "${preserve}" for --preserve-fds`);
  return {
    id: args.positional[0],
    bundle: flagString(args, 'bundle') ?? process.cwd(),
    pidFile: flagString(args, 'pid-file'),
    noPivot: args.flags.has('no-pivot'),
    preserveFds: preserve === undefined ? 0 : Number(preserve),
    consoleSocket: flagString(args, 'console-socket'),
  };
}

/**
 * Claims the id and starts the container's PID-1 stage before the rest of the runtime loads: its Node start-up
 * overlaps ours. The id is checked first: no stage is started for an id that will be refused.
 */
async function withEarlyStage<T extends ReturnType<typeof createOptions> & { keepTerminal?: boolean }>(opts: T, ctx: Context) {
  const { claimAndLaunchEarly } = await import('../runtime/init/launch.js');
  const path = await import('node:path');
  const { release, launched } = claimAndLaunchEarly(await store(ctx), opts.id, path.resolve(opts.bundle), opts);
  ctx.log.debug(launched ? `init stage launched early, pid ${launched.child.pid} (${elapsed()})` : 'config.json not read early: the stage starts after validation');
  return { ...opts, launched, claimed: release };
}

/**
 * While a container is being created, SIGTERM, SIGINT and SIGHUP abort the create (it undoes what it made and
 * fails) instead of ending this process halfway through, which would leave a hook, the stage and cgroups behind.
 */
async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const removals = (['SIGTERM', 'SIGINT', 'SIGHUP'] as const).map((name) => {
    const onSignal = () => controller.abort(name);
    process.on(name, onSignal);
    return () => process.off(name, onSignal);
  });
  try {
    return await work(controller.signal);
  } finally {
    for (const remove of removals) remove();
  }
}

/** Time since this process started, for --debug (`performance` would load perf_hooks in every command). */
function elapsed(): string {
  return `${(process.uptime() * 1000).toFixed(1)} ms since start`;
}

/** The create's phases as --debug lines, each with its time. */
function phases(ctx: Context): (what: string) => void {
  return (what) => ctx.log.debug(`${what} (${elapsed()})`);
}

/** runc's update flags that take a value (runtime/operations/update.ts turns them into LinuxResources). */
const UPDATE_FLAG_NAMES = [
  'blkio-weight', 'cpu-period', 'cpu-quota', 'cpu-share', 'cpu-rt-period', 'cpu-rt-runtime', 'cpuset-cpus', 'cpuset-mems',
  'kernel-memory', 'kernel-memory-tcp', 'memory', 'memory-reservation', 'memory-swap', 'pids-limit', 'l3-cache-schema',
  'mem-bw-schema',
] as const satisfies readonly UpdateFlag[];

/** runc's checkpoint flags, accepted so that the refusal, not a flag, is what the caller hears about. */
const CHECKPOINT_FLAGS: FlagSpec[] = [
  ...['image-path', 'work-path', 'parent-path', 'page-server', 'status-fd', 'manage-cgroups-mode', 'empty-ns'].map((n) => ({ names: [n], takesValue: true })),
  ...['leave-running', 'tcp-established', 'ext-unix-sk', 'shell-job', 'lazy-pages', 'file-locks', 'pre-dump', 'auto-dedup'].map((n) => ({ names: [n], takesValue: false })),
];

/** checkpoint and restore need CRIU, which tslab does not drive: a clear refusal, exit status 1. */
function noCriu(name: string, summary: string, flags: FlagSpec[]): Command {
  return {
    usage: `${name} [flags] <container-id>`,
    summary: `${summary}: not supported (tslab-runtime has no CRIU support)`,
    flags,
    arity: [1, 1],
    run: () => {
      throw new Error(`${name} is not supported: tslab-runtime cannot ${name === 'checkpoint' ? 'checkpoint' : 'restore'} containers (that needs CRIU, which it does not use)`);
    },
  };
}

const COMMANDS: Record<string, Command> = {
  create: {
    needsRoot: true,
    usage: 'create [--bundle DIR] [--pid-file FILE] [--console-socket PATH] [--no-pivot] [--preserve-fds N] <container-id>',
    summary: 'create a container, its init waiting for start',
    flags: CREATE_FLAGS,
    arity: [1, 1],
    run: (args, ctx) =>
      interruptible(async (signal) => {
        const opts = await withEarlyStage(createOptions(args), ctx);
        const { createContainer } = await import('../runtime/operations/create.js');
        const { child } = await createContainer(await store(ctx), { ...opts, signal, warn: (m) => ctx.log.warn(m), phase: phases(ctx) });
        ctx.log.debug(`container ${opts.id}: init pid ${child.pid} waits for start (${elapsed()})`);
        // Its init goes to our caller's subreaper, as runc's does (only a user namespace puts a launcher between).
        const { releaseLauncher } = await import('../runtime/init/launch-userns.js');
        await releaseLauncher(child);
        child.unref();
        return 0;
      }),
  },
  run: {
    needsRoot: true,
    usage: 'run [--detach] [--bundle DIR] [--pid-file FILE] [--console-socket PATH] [--no-pivot] [--preserve-fds N] <container-id>',
    summary: 'create and start a container; without --detach, wait and exit with its status',
    flags: [...CREATE_FLAGS, { names: ['detach', 'd'], takesValue: false }, { names: ['keep'], takesValue: false }],
    arity: [1, 1],
    run: (args, ctx) =>
      interruptible(async (signal) => {
        const detach = args.flags.has('detach');
        const opts = await withEarlyStage({ ...createOptions(args), detach, keepTerminal: !detach }, ctx);
        const { runContainer } = await import('../runtime/operations/run.js');
        // Once the container exists, a foreground run forwards these signals to it instead.
        return runContainer(await store(ctx), { ...opts, signal, phase: phases(ctx) }, (m) => ctx.log.warn(m));
      }),
  },
  exec: {
    needsRoot: true,
    usage:
      'exec [--process FILE] [--tty] [--console-socket PATH] [--detach] [--pid-file FILE] [--cwd DIR] [--env K=V]... [--user UID[:GID]] ' +
      '[--additional-gids GID]... [--cap CAP]... [--no-new-privs] [--preserve-fds N] [--ignore-paused] <container-id> [<command> [args...]]',
    summary: 'run a new process in a running container',
    flags: [
      { names: ['process', 'p'], takesValue: true },
      { names: ['tty', 't'], takesValue: false },
      { names: ['console-socket'], takesValue: true },
      { names: ['detach', 'd'], takesValue: false },
      { names: ['pid-file'], takesValue: true },
      { names: ['cwd'], takesValue: true },
      { names: ['env', 'e'], takesValue: true },
      { names: ['user', 'u'], takesValue: true },
      { names: ['additional-gids', 'g'], takesValue: true },
      { names: ['cap', 'c'], takesValue: true },
      { names: ['no-new-privs'], takesValue: false },
      { names: ['preserve-fds'], takesValue: true },
      { names: ['process-label'], takesValue: true },
      { names: ['apparmor'], takesValue: true },
      { names: ['cgroup'], takesValue: true },
      { names: ['ignore-paused'], takesValue: false },
    ],
    arity: [1, Number.MAX_SAFE_INTEGER],
    async run(args, ctx) {
      if (args.flags.has('cgroup')) throw new UsageError('--cgroup is not supported: tslab-runtime runs exec in the container\'s own cgroups only');
      const preserve = flagString(args, 'preserve-fds') ?? '0';
      if (!/^\d{1,4}$/.test(preserve)) throw new UsageError(`invalid value "${preserve}" for --preserve-fds`);
      const { execContainer } = await import('../runtime/operations/exec.js');
      const [id, ...command] = args.positional;
      return execContainer(await store(ctx), {
        id,
        processFile: flagString(args, 'process'),
        args: command,
        // Only a --tty on the command line overrides process.json's terminal (containerd sends none).
        tty: args.flags.has('tty') ? true : undefined,
        consoleSocket: flagString(args, 'console-socket'),
        detach: args.flags.has('detach'),
        pidFile: flagString(args, 'pid-file'),
        cwd: flagString(args, 'cwd'),
        env: flagValues(args, 'env'),
        user: flagString(args, 'user'),
        additionalGids: flagValues(args, 'additional-gids'),
        caps: flagValues(args, 'cap'),
        noNewPrivs: args.flags.has('no-new-privs'),
        preserveFds: Number(preserve),
        processLabel: flagString(args, 'process-label'),
        apparmor: flagString(args, 'apparmor'),
        ignorePaused: args.flags.has('ignore-paused'),
      });
    },
  },
  start: {
    needsRoot: true,
    usage: 'start <container-id>',
    summary: 'run the user program of a created container',
    flags: [],
    arity: [1, 1],
    async run(args, ctx) {
      const { startContainer } = await import('../runtime/operations/start.js');
      startContainer(await store(ctx), args.positional[0], (m) => ctx.log.warn(m));
      return 0;
    },
  },
  state: {
    usage: 'state <container-id>',
    summary: 'print the state of a container as JSON',
    flags: [],
    arity: [1, 1],
    async run(args, ctx) {
      const { runcState } = await import('../runtime/state/status.js');
      const s = await store(ctx);
      writeOut(`${JSON.stringify(runcState(s, s.read(args.positional[0])), null, 2)}\n`);
      return 0;
    },
  },
  kill: {
    needsRoot: true,
    usage: 'kill [--all] <container-id> [SIGNAL]',
    summary: 'send a signal (default SIGTERM) to the container init, or with --all to all its processes',
    flags: [{ names: ['all', 'a'], takesValue: false }],
    arity: [1, 2],
    async run(args, ctx) {
      const { parseSignal } = await import('../runtime/process/signals.js');
      const { killContainer } = await import('../runtime/operations/kill.js');
      const signal = parseSignal(args.positional[1] ?? 'SIGTERM');
      killContainer(await store(ctx), args.positional[0], signal, args.flags.has('all'));
      return 0;
    },
  },
  delete: {
    needsRoot: true,
    usage: 'delete [--force] <container-id>',
    summary: 'delete a stopped container (--force: kill it first)',
    flags: [{ names: ['force', 'f'], takesValue: false }],
    arity: [1, 1],
    async run(args, ctx) {
      const { deleteContainer } = await import('../runtime/operations/delete.js');
      deleteContainer(await store(ctx), args.positional[0], args.flags.has('force'), (m) => ctx.log.warn(m));
      return 0;
    },
  },
  list: {
    usage: 'list [--format table|json] [--quiet]',
    summary: 'list containers',
    flags: [
      { names: ['format', 'f'], takesValue: true },
      { names: ['quiet', 'q'], takesValue: false },
    ],
    arity: [0, 0],
    async run(args, ctx) {
      const format = flagString(args, 'format') ?? 'table';
      if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format option "${format}": use table or json`);
      const { runcState } = await import('../runtime/state/status.js');
      const s = await store(ctx);
      const states = s.list().flatMap((id) => {
        try {
          return [runcState(s, s.read(id))];
        } catch {
          return [];
        }
      });
      // runc prints an error for each such directory; this says what it is and how to undo it.
      for (const id of s.unfinished()) {
        ctx.log.error(`${id}: a create that did not finish left this behind (a journal, no state): \`tslab-runtime delete --force ${id}\` undoes what it made`);
      }
      if (args.flags.has('quiet')) {
        for (const st of states) writeOut(`${st.id}\n`);
      } else if (format === 'json') {
        writeOut(`${JSON.stringify(states.map((st) => ({ ...st, owner: 'root' })))}\n`);
      } else {
        const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
        for (const st of states) rows.push([st.id, String(st.pid), st.status, st.bundle, st.created, 'root']);
        writeOut(`${formatTable(rows)}\n`);
      }
      return 0;
    },
  },
  spec: {
    usage: 'spec [--bundle DIR]',
    summary: 'write a default config.json (args "sh") into the bundle directory',
    flags: [
      { names: ['bundle', 'b'], takesValue: true },
      { names: ['rootless'], takesValue: false },
    ],
    arity: [0, 0],
    async run(args) {
      if (args.flags.has('rootless')) throw new UsageError('--rootless is not supported: tslab-runtime runs as root');
      const fs = await import('node:fs');
      const path = await import('node:path');
      const { defaultSpec, formatSpec } = await import('../runtime/spec/default-spec.js');
      const file = path.join(flagString(args, 'bundle') ?? '.', 'config.json');
      if (fs.existsSync(file)) throw new UsageError('File config.json exists. Remove it first');
      fs.writeFileSync(file, formatSpec(defaultSpec({ terminal: process.stdin.isTTY === true })));
      return 0;
    },
  },
  pause: {
    needsRoot: true,
    usage: 'pause <container-id>',
    summary: 'freeze every process of the container',
    flags: [],
    arity: [1, 1],
    async run(args, ctx) {
      const { pauseContainer } = await import('../runtime/operations/pause.js');
      pauseContainer(await store(ctx), args.positional[0], true);
      return 0;
    },
  },
  resume: {
    needsRoot: true,
    usage: 'resume <container-id>',
    summary: 'thaw a paused container',
    flags: [],
    arity: [1, 1],
    async run(args, ctx) {
      const { pauseContainer } = await import('../runtime/operations/pause.js');
      pauseContainer(await store(ctx), args.positional[0], false);
      return 0;
    },
  },
  ps: {
    usage: 'ps [--format table|json] <container-id>',
    summary: 'list the host pids of the container\'s processes',
    flags: [{ names: ['format', 'f'], takesValue: true }],
    arity: [1, 1],
    async run(args, ctx) {
      const { containerPids } = await import('../runtime/operations/ps.js');
      const pids = containerPids(await store(ctx), args.positional[0]);
      const format = flagString(args, 'format') ?? 'table';
      if (format === 'json') writeOut(`${JSON.stringify(pids)}\n`);
      else if (format === 'table') writeOut(`PID\n${pids.join('\n')}${pids.length ? '\n' : ''}`);
      else throw new UsageError(`invalid format option "${format}": use table or json`);
      return 0;
    },
  },
  update: {
    needsRoot: true,
    usage: 'update [--resources FILE|-] [--memory SIZE] [--memory-swap SIZE] [--memory-reservation SIZE] [--pids-limit N] ' +
      '[--cpu-share N] [--cpu-quota N] [--cpu-period N] [--cpu-rt-period N] [--cpu-rt-runtime N] [--cpuset-cpus LIST] ' +
      '[--cpuset-mems LIST] [--blkio-weight N] <container-id>',
    summary: 'change the resource limits of a container (--resources: a LinuxResources JSON file, - for stdin)',
    flags: [{ names: ['resources', 'r'], takesValue: true }, ...UPDATE_FLAG_NAMES.map((name) => ({ names: [name], takesValue: true }))],
    arity: [1, 1],
    async run(args, ctx) {
      const { updateContainer } = await import('../runtime/operations/update.js');
      const flags = Object.fromEntries(UPDATE_FLAG_NAMES.flatMap((name) => {
        const value = flagString(args, name);
        return value === undefined ? [] : [[name, value]];
      }));
      updateContainer(await store(ctx), args.positional[0], { resourcesFile: flagString(args, 'resources'), flags, warn: (m) => ctx.log.warn(m) });
      return 0;
    },
  },
  events: {
    usage: 'events [--stats] [--interval DURATION] <container-id>',
    summary: 'print resource usage and OOM kills as JSON lines (--stats: once)',
    flags: [
      { names: ['stats'], takesValue: false },
      { names: ['interval'], takesValue: true },
    ],
    arity: [1, 1],
    async run(args, ctx) {
      const { containerEvents, parseGoDuration } = await import('../runtime/operations/events.js');
      const intervalMs = parseGoDuration(flagString(args, 'interval') ?? '5s');
      await containerEvents(await store(ctx), args.positional[0], {
        stats: args.flags.has('stats'),
        intervalMs,
        write: (line) => writeOut(line),
      });
      return 0;
    },
  },
  features: {
    usage: 'features',
    summary: 'print what this runtime supports (the OCI runtime-spec features document)',
    flags: [],
    arity: [0, 0],
    async run() {
      const { features } = await import('../runtime/operations/features.js');
      writeOut(`${JSON.stringify(features(SPEC_VERSION), null, 4)}\n`);
      return 0;
    },
  },
  checkpoint: noCriu('checkpoint', 'checkpoint a running container', CHECKPOINT_FLAGS),
  restore: noCriu('restore', 'restore a container from a checkpoint', [
    ...CHECKPOINT_FLAGS,
    ...['bundle', 'b', 'pid-file', 'console-socket', 'lsm-profile', 'lsm-mount-context'].map((n) => ({ names: [n], takesValue: true })),
    ...['detach', 'd', 'no-subreaper', 'no-pivot'].map((n) => ({ names: [n], takesValue: false })),
  ]),
};
COMMANDS.ls = COMMANDS.list;

function usage(): string {
  const lines = Object.entries(COMMANDS)
    .filter(([name]) => name !== 'ls')
    .map(([name, cmd]) => `   ${name.padEnd(8)} ${cmd.summary}`);
  return [
    'usage: tslab-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] <command> [flags] [args]',
    '',
    'An OCI runtime written in TypeScript that speaks runc\'s command line.',
    '',
    'commands:',
    ...lines,
    '',
    `state is kept under --root (default /run/tslab).`,
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let log = new Logger({ format: 'text', debug: false });
  try {
    const global = parseArgs(argv, GLOBAL_FLAGS);
    const format = flagString(global, 'log-format') ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError(`invalid log format "${format}": use text or json`);
    log = new Logger({ file: flagString(global, 'log'), format, debug: global.flags.has('debug') });
    if (global.flags.has('version')) {
      writeOut(`tslab-runtime version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    const [name, ...rest] = global.positional;
    if (global.flags.has('help') || name === 'help' || !name) {
      (name || global.flags.has('help') ? writeOut : writeErr)(`${usage()}\n`);
      return name || global.flags.has('help') ? 0 : 1;
    }
    if (global.flags.has('systemd-cgroup')) throw new UsageError('--systemd-cgroup is not supported: tslab-runtime drives cgroupfs directly');
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const args = parseArgs(rest, command.flags);
    const [min, max] = command.arity;
    if (args.positional.length < min || args.positional.length > max) {
      throw new UsageError(`"${name}" takes ${min === max ? min : `${min} to ${max}`} argument(s)\nusage: tslab-runtime ${command.usage}`);
    }
    if (command.needsRoot && process.getuid?.() !== 0) {
      throw new Error(`${name} must run as root: containers are made of namespaces, mounts and cgroups that only root may create (rootless mode is not supported)`);
    }
    const { DEFAULT_ROOT } = await import('../runtime/state/store.js');
    log.debug(`${name} ${args.positional.join(' ')} (${elapsed()})`);
    const status = await command.run(args, { root: flagString(global, 'root') ?? DEFAULT_ROOT, log });
    log.debug(`${name} done, status ${status} (${elapsed()})`);
    return status;
  } catch (err) {
    if (err instanceof UsageError) {
      log.error(err.message);
      if (!err.message.includes('usage:')) writeErr(`run "tslab-runtime --help" for usage\n`);
      return 1;
    }
    log.error(err instanceof Error ? err.message : String(err));
    if (log && process.env.TSLAB_DEBUG && err instanceof Error) writeErr(`${err.stack}\n`);
    return 1;
  }
}
