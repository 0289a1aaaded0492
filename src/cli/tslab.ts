// tslab: the lab's command line. It parses and prints; the lab itself lives in src/lab.
// Each family of commands is its own bundle (build.mjs), loaded only when one of its commands is run.
import { UsageError, parseArgs, type FlagSpec } from './args.js';

/** docker's commands, handled by src/cli/engine-commands.ts (listed here so tslab's own flags stay out of them). */
const ENGINE_COMMANDS = ['run', 'ps', 'logs', 'exec', 'stop', 'kill', 'rm', 'inspect', 'images', 'rmi', 'import', 'pull'];

/** The lab's commands and housekeeping, handled by src/cli/lab-commands.ts. */
const LAB_COMMANDS = ['start', 'lessons', 'check', 'solution', 'shell', 'reset', 'demo', 'bundle', 'rootfs'];

/** Every command the parser knows: whatever a lesson, a hint or a message tells the learner to type is one of these. */
export const COMMANDS = ['help', ...ENGINE_COMMANDS, ...LAB_COMMANDS];

/** Commands that change kernel state, which only root may do. */
const ROOT_COMMANDS = [...ENGINE_COMMANDS, 'start', 'check', 'shell', 'reset', 'demo'];

const USAGE = `usage: tslab <command>

the lab (as root):
   start [LESSON]        open the lesson notebook (resumes where you left off); LESSON jumps there
         --yes           run the lesson's cells without asking (headless), then its checks
         --reference     use the reference steps instead of your sandbox/steps
   lessons               list the lessons and your progress
   check LESSON          run a lesson's checks against your sandbox (--reference: against the reference)
   solution LESSON       show the reference for a lesson's piece
   shell                 a shell inside the running lesson container
   reset [LESSON]        undo every host change the lab made (a crashed session's too); progress is kept
         --progress      also forget progress: of LESSON, or all of it
   demo LESSON           run a lesson for a room: reference steps, typed-out cells, a key between cells
         --auto SECONDS  advance by itself after SECONDS

containers (as docker's; --json before the command gives JSON where it makes sense):
   run [OPTIONS] IMAGE [CMD...]   --name N, -d, --rm, -i, -t, -h HOST, -e K=V, --env-file F, -w DIR,
                         -u UID[:GID], -v SRC:DST[:ro], -m SIZE, --pids-limit N, --cpus X,
                         --network bridge|none|host, -p HOSTPORT:PORT, --entrypoint CMD,
                         --mine (the runtime built from your sandbox/steps)
   ps [-a] | logs [-f] C | exec [-i] C CMD... | stop [-t S] C | kill [-s SIG] C | rm [-f] C
   images | rmi IMAGE | import FILE [NAME] | pull REGISTRY/REPO[:TAG] | inspect C|IMAGE
   bundle DIR [CMD...]   make an OCI bundle in DIR: config.json (runc's defaults) and a copy of the
                         built-in busybox rootfs; CMD replaces the default "sh"
   rootfs                build the built-in busybox rootfs if needed and print its path`;

const FLAGS: FlagSpec[] = [
  { names: ['help', 'h'], takesValue: false },
  { names: ['version', 'v'], takesValue: false },
  { names: ['yes', 'y'], takesValue: false },
  { names: ['reference'], takesValue: false },
  { names: ['json'], takesValue: false },
  { names: ['auto'], takesValue: true },
  { names: ['progress'], takesValue: false },
];

class NeedsRootError extends Error {}

const write = (text: string) => void process.stdout.write(text);

function requireRoot(command: string): void {
  if (process.getuid?.() !== 0) {
    throw new NeedsRootError(
      `"tslab ${command}" creates namespaces, mounts and cgroups, which only root may do. Run it as root (sudo tslab ${command}).`,
    );
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, FLAGS);
    let [name, ...rest] = args.positional;
    if (ENGINE_COMMANDS.includes(name)) {
      requireRoot(name);
      const { runEngineCommand } = await import('./engine-commands.js');
      return await runEngineCommand(name, rest, args.flags.has('json'));
    }
    if (name === 'bundle') {
      // Flags come before the command to run; everything after it belongs to that command.
      const sub = parseArgs(rest, FLAGS);
      for (const [key, value] of sub.flags) args.flags.set(key, value);
      rest = sub.positional;
    } else if (name && rest.length) {
      // Flags may also follow the command (`tslab start 2 --yes`), as learners type them.
      const flagWords: string[] = [];
      const words: string[] = [];
      for (let i = 0; i < rest.length; i++) {
        if (!rest[i].startsWith('-')) {
          words.push(rest[i]);
          continue;
        }
        flagWords.push(rest[i]);
        const spec = FLAGS.find((f) => f.names.includes(rest[i].replace(/^--?/, '')));
        if (spec?.takesValue && i + 1 < rest.length) flagWords.push(rest[++i]);
      }
      for (const [key, value] of parseArgs(flagWords, FLAGS).flags) args.flags.set(key, value);
      rest = words;
    }
    if (args.flags.has('version')) {
      write('tslab 0.1.0\n');
      return 0;
    }
    if (!name || args.flags.has('help') || name === 'help') {
      (name || args.flags.has('help') ? process.stdout : process.stderr).write(`${USAGE}\n`);
      return name || args.flags.has('help') ? 0 : 1;
    }
    if (!LAB_COMMANDS.includes(name)) throw new UsageError(`unknown command "${name}"\n${USAGE}`);
    if (ROOT_COMMANDS.includes(name)) requireRoot(name);
    // Each bundle has its own copy of UsageError: the family reports its own failures.
    const { runLabCommand } = await import('./lab-commands.js');
    return await runLabCommand(name, rest, args);
  } catch (err) {
    process.stderr.write(`tslab: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
