// The lab's commands behind `tslab start/lessons/check/solution/shell/reset/demo/bundle/rootfs`: parsed
// by tslab.ts, done by src/lab. Bundled apart from the container commands, so `tslab run` does not load
// the lab (its Markdown renderer and prompts) at every start.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ParsedArgs, UsageError, flagString } from './args.js';

const write = (text: string) => void process.stdout.write(text);

async function bundle(dir: string, command: string[], announce = true): Promise<void> {
  const { ensureDefaultRootfs } = await import('../fs/busybox-rootfs.js');
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
  const { style } = await import('../lab/render.js');
  const tookOver = (await import('../lab/lock.js')).acquireLabLock();
  if (tookOver) write(`${style.warn(tookOver)}\n`);
  const notebook = new Notebook({ ...opts, write });
  const recovered = notebook.undoLeftovers();
  if (recovered) write(`${style.warn(recovered)}\n`);
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

/** Undoes every host change the lab made; forgets progress (of one lesson, or all) only when asked. */
async function reset(lessonName: string | undefined, forgetProgress: boolean): Promise<void> {
  const { stopLessonContainer } = await import('../lab/container.js');
  const { resetProgress } = await import('../lab/progress.js');
  const { findLesson, loadCatalog } = await import('../lab/catalog.js');
  if (lessonName && !forgetProgress) {
    throw new UsageError(`reset undoes host changes and keeps progress; to forget lesson ${lessonName}'s progress: tslab reset --progress ${lessonName}`);
  }
  const id = lessonName ? findLesson(loadCatalog(), lessonName).id : undefined;
  const tookOver = (await import('../lab/lock.js')).acquireLabLock();
  if (tookOver) write(`${tookOver}\n`);
  const undone = stopLessonContainer();
  write(`host changes undone: ${undone.length ? undone.join(', ') : 'none were left'}\n`);
  if (forgetProgress) {
    resetProgress(id);
    write(`${id ? `progress of ${id}` : 'all progress'} forgotten\n`);
  } else {
    write('progress kept (`tslab reset --progress` forgets it)\n');
  }
}

/** Runs lab command `name` with its words `rest` and the parsed flags; returns the exit status. */
async function labCommand(name: string, rest: string[], args: ParsedArgs): Promise<number> {
  const source = args.flags.has('reference') ? 'reference' : 'mine';
  switch (name) {
    case 'start': {
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
      return await shell();
    case 'reset':
      await reset(rest[0], args.flags.has('progress'));
      return 0;
    case 'demo': {
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
      const { ensureDefaultRootfs } = await import('../fs/busybox-rootfs.js');
      write(`${ensureDefaultRootfs()}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}

/** labCommand with its failures printed: 2 for a usage error, 1 for anything else. */
export async function runLabCommand(name: string, rest: string[], args: ParsedArgs): Promise<number> {
  try {
    return await labCommand(name, rest, args);
  } catch (err) {
    process.stderr.write(`tslab: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
