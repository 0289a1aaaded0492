// tslab: the lab's command line. Until the lessons land it offers the pieces a newcomer needs to
// try the runtime: the built-in root filesystem and a ready-made bundle around it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, parseArgs } from './args.js';

const USAGE = `usage: tslab <command>

commands:
   bundle DIR [CMD...]   make an OCI bundle in DIR: config.json (runc's defaults) and a copy of the
                         built-in busybox rootfs; CMD replaces the default "sh"
   rootfs                build the built-in busybox rootfs if needed and print its path

then, inside the bundle:  tslab-runtime run NAME`;

async function bundle(dir: string, command: string[]): Promise<void> {
  const { ensureDefaultRootfs } = await import('../image/default-rootfs.js');
  const { defaultSpec, formatSpec } = await import('../runtime/spec/default-spec.js');
  const target = path.resolve(dir);
  if (fs.existsSync(path.join(target, 'config.json'))) throw new UsageError(`${target}/config.json exists: remove it or pick another directory`);
  fs.mkdirSync(target, { recursive: true });
  fs.cpSync(ensureDefaultRootfs(), path.join(target, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  const spec = defaultSpec({ terminal: false });
  if (command.length) spec.process!.args = command;
  fs.writeFileSync(path.join(target, 'config.json'), formatSpec(spec));
  process.stdout.write(`bundle ready: ${target}\n  cd ${target} && tslab-runtime run demo\n`);
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, [
      { names: ['help', 'h'], takesValue: false },
      { names: ['version', 'v'], takesValue: false },
    ]);
    const [name, ...rest] = args.positional;
    if (args.flags.has('version')) {
      process.stdout.write('tslab 0.1.0\n');
      return 0;
    }
    if (!name || args.flags.has('help') || name === 'help') {
      (name || args.flags.has('help') ? process.stdout : process.stderr).write(`${USAGE}\n`);
      return name || args.flags.has('help') ? 0 : 1;
    }
    switch (name) {
      case 'bundle':
        if (!rest[0]) throw new UsageError('bundle needs a directory: tslab bundle DIR');
        await bundle(rest[0], rest.slice(1));
        return 0;
      case 'rootfs': {
        const { ensureDefaultRootfs } = await import('../image/default-rootfs.js');
        process.stdout.write(`${ensureDefaultRootfs()}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${name}"\n${USAGE}`);
    }
  } catch (err) {
    process.stderr.write(`tslab: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
