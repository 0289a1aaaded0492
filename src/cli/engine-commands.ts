// `tslab run/ps/logs/exec/stop/kill/rm/inspect/images/rmi/import/pull`: docker's command line over src/engine.
// Exit statuses as docker's: the container's own, 125 for tslab's errors, 126 cannot execute, 127 not found.
import { UsageError } from './args.js';
import { listFlag, numberFlag, parseDockerArgs, stringFlag, type DockerArgs, type DockerFlag } from './docker-args.js';
import { formatTable } from './table.js';

const RUN_FLAGS: DockerFlag[] = [
  { long: 'name', value: true },
  { long: 'detach', short: 'd', value: false },
  { long: 'rm', value: false },
  { long: 'interactive', short: 'i', value: false },
  { long: 'tty', short: 't', value: false },
  { long: 'hostname', short: 'h', value: true },
  { long: 'env', short: 'e', value: true, repeat: true },
  { long: 'env-file', value: true, repeat: true },
  { long: 'workdir', short: 'w', value: true },
  { long: 'user', short: 'u', value: true },
  { long: 'volume', short: 'v', value: true, repeat: true },
  { long: 'memory', short: 'm', value: true },
  { long: 'pids-limit', value: true },
  { long: 'cpus', value: true },
  { long: 'network', value: true },
  { long: 'publish', short: 'p', value: true, repeat: true },
  { long: 'entrypoint', value: true },
  { long: 'mine', value: false },
];

const write = (text: string) => void process.stdout.write(text);

function ago(iso: string | undefined): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} seconds ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} minutes ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} hours ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

async function runtimeFor(mine: boolean): Promise<string> {
  if (!mine) return (await import('../engine/runtime-driver.js')).builtinRuntimePath();
  const { runtimeExecutable, buildWithSteps } = await import('../lab/step-build.js');
  const { loadCatalog } = await import('../lab/catalog.js');
  return runtimeExecutable(await buildWithSteps(loadCatalog().flatMap((l) => (l.piece ? [l.piece.file] : []))));
}

/** `tslab run`: docker's flags into RunOptions; the status is the container's. */
async function run(argv: string[]): Promise<number> {
  const args = parseDockerArgs(argv, RUN_FLAGS);
  const [image, ...command] = args.positional;
  if (!image) throw new UsageError('run needs an image: tslab run [OPTIONS] IMAGE [COMMAND...] (tslab images lists them)');
  const network = stringFlag(args, 'network') ?? 'bridge';
  if (network !== 'bridge' && network !== 'none' && network !== 'host') throw new UsageError(`--network must be bridge, none or host, not "${network}"`);
  const pidsLimit = numberFlag(args, 'pids-limit');
  if (pidsLimit !== undefined && !(Number.isInteger(pidsLimit) && pidsLimit > 0)) throw new UsageError(`--pids-limit must be a positive integer`);
  const { runImage } = await import('../engine/containers.js');
  return runImage(
    {
      name: stringFlag(args, 'name'),
      detach: args.flags.has('detach'),
      autoRemove: args.flags.has('rm'),
      interactive: args.flags.has('interactive'),
      tty: args.flags.has('tty'),
      hostname: stringFlag(args, 'hostname'),
      env: listFlag(args, 'env'),
      envFiles: listFlag(args, 'env-file'),
      workdir: stringFlag(args, 'workdir'),
      user: stringFlag(args, 'user'),
      volumes: listFlag(args, 'volume'),
      memory: stringFlag(args, 'memory'),
      pidsLimit,
      cpus: numberFlag(args, 'cpus'),
      network,
      publish: listFlag(args, 'publish'),
      entrypoint: stringFlag(args, 'entrypoint'),
      image,
      command,
    },
    await runtimeFor(args.flags.has('mine')),
    write,
  );
}

async function ps(argv: string[], json: boolean): Promise<number> {
  const args = parseDockerArgs(argv, [{ long: 'all', short: 'a', value: false }, { long: 'quiet', short: 'q', value: false }]);
  const records = (await import('../engine/containers.js')).listContainers(args.flags.has('all'));
  if (json) return write(`${JSON.stringify(records, null, 2)}\n`), 0;
  if (args.flags.has('quiet')) return write(records.map((r) => `${r.id.slice(0, 12)}\n`).join('')), 0;
  const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
  for (const r of records) {
    const status = r.status === 'running' ? `Up ${ago(r.startedAt).replace(' ago', '')}` : r.status === 'exited' ? `Exited (${r.exitCode ?? 'unknown'}) ${ago(r.finishedAt)}` : 'Created';
    const ports = r.ports.map((p) => `0.0.0.0:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
    const command = JSON.stringify(r.command.join(' ')).slice(0, 22);
    rows.push([r.id.slice(0, 12), r.image, command, ago(r.created), status, ports, r.name]);
  }
  write(`${formatTable(rows)}\n`);
  return 0;
}

async function logs(argv: string[]): Promise<number> {
  const args = parseDockerArgs(argv, [{ long: 'follow', short: 'f', value: false }]);
  if (!args.positional[0]) throw new UsageError('logs needs a container: tslab logs [-f] CONTAINER');
  // Waits for the pipe to take each chunk: a log of gigabytes must not pile up in memory.
  await (await import('../engine/containers.js')).streamLogs(args.positional[0], args.flags.has('follow'), (chunk) =>
    process.stdout.write(chunk) ? Promise.resolve() : new Promise((resolve) => process.stdout.once('drain', resolve)),
  );
  return 0;
}

async function exec(argv: string[]): Promise<number> {
  const args = parseDockerArgs(argv, [{ long: 'interactive', short: 'i', value: false }, { long: 'tty', short: 't', value: false }]);
  const [container, ...command] = args.positional;
  if (!container || !command.length) throw new UsageError('exec needs a container and a command: tslab exec [-i] CONTAINER COMMAND...');
  return (await import('../engine/containers.js')).execInContainer(container, command, args.flags.has('interactive'), args.flags.has('tty'));
}

/**
 * A verb that acts on each container it names in turn, printing each name once done (as docker does):
 * `stop`, `kill` and `rm`, with their one flag.
 */
function eachContainer(verb: string, flag: DockerFlag, usage: string, act: (engine: typeof import('../engine/containers.js'), container: string, args: DockerArgs) => Promise<unknown>) {
  return async (argv: string[]): Promise<number> => {
    const args = parseDockerArgs(argv, [flag]);
    if (!args.positional.length) throw new UsageError(`${verb} needs a container: ${usage}`);
    const engine = await import('../engine/containers.js');
    for (const c of args.positional) {
      await act(engine, c, args);
      write(`${c}\n`);
    }
    return 0;
  };
}

async function inspect(argv: string[]): Promise<number> {
  if (!argv.length) throw new UsageError('inspect needs a container or an image: tslab inspect NAME...');
  const { inspectObjects } = await import('../engine/inspect.js');
  write(`${JSON.stringify(inspectObjects(argv), null, 2)}\n`);
  return 0;
}

/** `images`, `rmi`, `import` and `pull`, in image-commands.ts. */
function imageVerb(name: string) {
  return async (argv: string[], json: boolean): Promise<number> => (await import('./image-commands.js')).imageCommand(name, argv, json, write);
}

/** Each docker verb tslab knows: its flags parsed, the engine called, the result printed; returns the exit status. */
const ENGINE_VERBS: Record<string, (argv: string[], json: boolean) => Promise<number>> = {
  run,
  ps,
  logs,
  exec,
  stop: eachContainer('stop', { long: 'time', short: 't', value: true }, 'tslab stop [-t SECONDS] CONTAINER...', (engine, c, args) =>
    engine.stopContainer(c, numberFlag(args, 'time') ?? 10),
  ),
  kill: eachContainer('kill', { long: 'signal', short: 's', value: true }, 'tslab kill [-s SIGNAL] CONTAINER...', (engine, c, args) =>
    engine.killRunningContainer(c, stringFlag(args, 'signal') ?? 'SIGKILL'),
  ),
  rm: eachContainer('rm', { long: 'force', short: 'f', value: false }, 'tslab rm [-f] CONTAINER...', (engine, c, args) => engine.removeContainer(c, args.flags.has('force'))),
  inspect,
  images: imageVerb('images'),
  rmi: imageVerb('rmi'),
  import: imageVerb('import'),
  pull: imageVerb('pull'),
};

async function engineCommand(name: string, argv: string[], json: boolean): Promise<number> {
  const verb = Object.hasOwn(ENGINE_VERBS, name) ? ENGINE_VERBS[name] : undefined;
  if (!verb) throw new UsageError(`unknown command "${name}"`);
  return verb(argv, json);
}

/**
 * engineCommand with docker's convention for failures: tslab's own errors are 125 for `run` (the container's
 * statuses own the rest), 1 for the other commands; an error that knows its status (127 from `run -d`) keeps it.
 */
export async function runEngineCommand(name: string, argv: string[], json: boolean): Promise<number> {
  try {
    return await engineCommand(name, argv, json);
  } catch (err) {
    process.stderr.write(`tslab: ${err instanceof Error ? err.message : String(err)}\n`);
    const { EngineError } = await import('../engine/containers.js');
    return err instanceof EngineError ? err.status : name === 'run' ? 125 : 1;
  }
}
