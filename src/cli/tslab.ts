// tslab: the lab's command line. It parses and prints; the lab itself lives in src/lab.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError, flagString, parseArgs, type FlagSpec } from './args.js';

/** docker's commands, handled by src/cli/engine-commands.ts (listed here so tslab's own flags stay out of them). */
const ENGINE_COMMANDS = ['run', 'ps', 'logs', 'exec', 'stop', 'kill', 'rm', 'inspect', 'images', 'rmi', 'import', 'pull'];

const USAGE = `usage: tslab <command>

the lab (as root):
   start [LESSON]        open the lesson notebook (resumes where you left off); LESSON jumps there
         --yes           run the lesson's cells without asking (headless), then its checks
         --reference     use the reference steps instead of your sandbox/steps
   lessons               list the lessons and your progress
   check LESSON          run a lesson's checks against your sandbox (--reference: against the reference)
   solution LESSON       show the reference for a lesson's piece
   shell                 a shell inside the running lesson container
   reset [LESSON]        forget progress (one lesson or all) and undo every host change the lab made
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

async function bundle(dir: string, command: string[], announce = true): Promise<void> {
  const { ensureDefaultRootfs } = await import('../image/default-rootfs.js');
  const { defaultSpec, formatSpec } = await import('../runtime/spec/default-spec.js');
  const target = path.resolve(dir);
  if (fs.existsSync(path.join(target, 'config.json'))) throw new UsageError(`${target}/config.json exists: remove it or pick another directory`);
  fs.mkdirSync(target, { recursive: true });
  fs.cpSync(ensureDefaultRootfs(), path.join(target, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  const spec = defaultSpec({ terminal: false });
  if (command.length) spec.process!.args = command;
  fs.writeFileSync(path.join(target, 'config.json'), formatSpec(spec));
  if (announce) write(`bundle ready: ${target}\n  cd ${target} && tslab-runtime run demo\n`);
}

/** Runs the lab's Notebook until it ends, cleaning up the host on quit, on Ctrl-C and on errors. */
async function withNotebook(run: (notebook: import('../lab/notebook.js').Notebook) => Promise<number>, opts: { source: 'reference' | 'mine'; lesson?: string; yes: boolean }): Promise<number> {
  const { Notebook, QuitRequested } = await import('../lab/notebook.js');
  (await import('../lab/lock.js')).acquireLabLock();
  const notebook = new Notebook({ ...opts, write });
  const cleanUp = (): string => {
    try {
      const undone = notebook.cleanup();
      return `cleaned up: ${undone.length ? undone.join(', ') : 'nothing to undo'}`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  const interrupted = (signal: NodeJS.Signals) => {
    process.stdout.write(`\n${signal === 'SIGINT' ? 'Interrupted' : `Got ${signal}`}; ${cleanUp()}.\n`);
    process.exit(128 + os.constants.signals[signal]);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, interrupted);
  process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
    // enquirer 2.4.1 on Node >= 24.2 throws ERR_USE_AFTER_CLOSE from its keypress handler when Ctrl-C closes a
    // prompt (enquirer issue #483): that is the learner quitting.
    if (err.code === 'ERR_USE_AFTER_CLOSE') {
      process.stdout.write(`\nProgress saved. \`tslab start\` resumes here.\n${cleanUp()}\n`);
      process.exit(0);
    }
    process.stderr.write(`tslab: ${err.stack ?? err.message}\n${cleanUp()}\n`);
    process.exit(1);
  });
  try {
    return await run(notebook);
  } catch (err) {
    if (err instanceof QuitRequested) {
      write('\nProgress saved. `tslab start` resumes here.\n');
      return 0;
    }
    throw err;
  } finally {
    write(`${cleanUp()}\n`);
  }
}

async function check(lessonName: string, source: 'reference' | 'mine'): Promise<number> {
  const { findLesson, loadCatalog, loadLesson } = await import('../lab/catalog.js');
  const lesson = loadLesson(findLesson(loadCatalog(), lessonName));
  return withNotebook(async (notebook) => {
    const cells = lesson.doc.segments.flatMap((s) => (s.type === 'cell' ? [s.cell] : []));
    // The checks look at the lesson's finished state: its last "enable" cell, then the check itself.
    const enable = cells.filter((c) => c.kind === 'enable').pop();
    if (enable && !(await notebook.runCell(lesson, enable))) return 1;
    const check = cells.find((c) => c.kind === 'check') ?? { kind: 'check' as const, args: [], code: '' };
    if (!(await notebook.runCell(lesson, check))) return 1;
    notebook.recordPass(lesson);
    return 0;
  }, { source, lesson: lessonName, yes: true });
}

async function shell(): Promise<number> {
  const { currentContainer, enterCommand } = await import('../lab/container.js');
  const container = currentContainer();
  if (!container) throw new UsageError('no lesson container is running: open a lesson with `tslab start` (its "switch the feature on" cell starts one)');
  const [command, ...args] = enterCommand(container, ['/bin/sh']);
  write(`lesson container of ${container.lesson} (level ${container.level}, host pid ${container.pid}); exit to leave\n`);
  return spawnSync(command, args, { stdio: 'inherit' }).status ?? 1;
}

async function reset(lessonName: string | undefined): Promise<void> {
  const { stopLessonContainer } = await import('../lab/container.js');
  const { resetProgress } = await import('../lab/progress.js');
  const { findLesson, loadCatalog } = await import('../lab/catalog.js');
  const id = lessonName ? findLesson(loadCatalog(), lessonName).id : undefined;
  (await import('../lab/lock.js')).acquireLabLock();
  const undone = stopLessonContainer();
  resetProgress(id);
  write(`${id ? `progress of ${id}` : 'all progress'} forgotten; host changes undone: ${undone.length ? undone.join(', ') : 'none were left'}\n`);
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, FLAGS);
    let [name, ...rest] = args.positional;
    if (ENGINE_COMMANDS.includes(name)) {
      requireRoot(name);
      const { engineCommand } = await import('./engine-commands.js');
      try {
        return await engineCommand(name, rest, args.flags.has('json'));
      } catch (err) {
        // docker's convention: tslab's own errors are 125 for `run` (the container's statuses own the rest),
        // 1 for the other commands; an error that knows its status (e.g. 127 from `run -d`) keeps it.
        process.stderr.write(`tslab: ${err instanceof Error ? err.message : String(err)}\n`);
        const { EngineError } = await import('../engine/commands.js');
        return err instanceof EngineError ? err.status : name === 'run' ? 125 : 1;
      }
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
    const source = args.flags.has('reference') ? 'reference' : 'mine';
    if (args.flags.has('version')) {
      write('tslab 0.1.0\n');
      return 0;
    }
    if (!name || args.flags.has('help') || name === 'help') {
      (name || args.flags.has('help') ? process.stdout : process.stderr).write(`${USAGE}\n`);
      return name || args.flags.has('help') ? 0 : 1;
    }
    switch (name) {
      case 'start': {
        requireRoot('start');
        const yes = args.flags.has('yes');
        if (!yes && !process.stdin.isTTY) throw new UsageError('tslab start is interactive and needs a terminal; add --yes to run a lesson headless');
        return await withNotebook((notebook) => notebook.run(), { source, lesson: rest[0], yes });
      }
      case 'lessons': {
        const { loadCatalog } = await import('../lab/catalog.js');
        const { loadProgress } = await import('../lab/progress.js');
        const { lessonsOverview } = await import('../lab/overview.js');
        write(`${lessonsOverview(loadCatalog(), loadProgress())}\n`);
        return 0;
      }
      case 'check':
        requireRoot('check');
        if (!rest[0]) throw new UsageError('check needs a lesson: tslab check LESSON (see tslab lessons)');
        return await check(rest[0], source);
      case 'solution': {
        if (!rest[0]) throw new UsageError('solution needs a lesson: tslab solution LESSON');
        const { findLesson, loadCatalog } = await import('../lab/catalog.js');
        const { solutionMarkdown } = await import('../lab/solution.js');
        const { renderProse } = await import('../lab/render.js');
        write(renderProse(solutionMarkdown(findLesson(loadCatalog(), rest[0]))));
        return 0;
      }
      case 'shell':
        requireRoot('shell');
        return await shell();
      case 'reset':
        requireRoot('reset');
        await reset(rest[0]);
        return 0;
      case 'demo': {
        requireRoot('demo');
        if (!rest[0]) throw new UsageError('demo needs a lesson: tslab demo LESSON [--auto SECONDS]');
        const auto = flagString(args, 'auto');
        if (auto !== undefined && !(Number(auto) >= 0)) throw new UsageError(`--auto needs a number of seconds, not "${auto}"`);
        const { runDemo } = await import('../lab/demo.js');
        return await withNotebook((notebook) => runDemo({ lesson: rest[0], autoSeconds: auto === undefined ? undefined : Number(auto), write }, notebook), {
          source: 'reference',
          yes: true,
        });
      }

      case 'bundle':
        if (!rest[0]) throw new UsageError('bundle needs a directory: tslab bundle DIR');
        await bundle(rest[0], rest.slice(1));
        return 0;
      case 'rootfs': {
        const { ensureDefaultRootfs } = await import('../image/default-rootfs.js');
        write(`${ensureDefaultRootfs()}\n`);
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
