// The lab's commands behind `tslab start/lessons/check/solution/shell/reset/demo/bundle/rootfs`: parsed
// by tslab.ts, done by src/lab. Bundled apart from the container commands, so `tslab run` does not load
// the lab (its Markdown renderer and prompts) at every start.
import { spawnSync } from 'node:child_process';
import { type ParsedArgs, UsageError, flagString } from './args.js';

const write = (text: string) => void process.stdout.write(text);

async function shell(): Promise<number> {
  const { currentContainer, enterCommand } = await import('../lab/lesson-container.js');
  const container = currentContainer();
  if (!container) throw new UsageError('no lesson container is running: open a lesson with `tslab start` (its "switch the feature on" cell starts one)');
  const [command, ...args] = enterCommand(container, ['/bin/sh']);
  write(`lesson container of ${container.lesson} (level ${container.level}, host pid ${container.pid}); exit to leave\n`);
  return spawnSync(command, args, { stdio: 'inherit' }).status ?? 1;
}

/** Runs lab command `name` with its words `rest` and the parsed flags; returns the exit status. */
async function labCommand(name: string, rest: string[], args: ParsedArgs): Promise<number> {
  const source = args.flags.has('reference') ? 'reference' : 'mine';
  switch (name) {
    case 'start': {
      const yes = args.flags.has('yes');
      if (!yes && !process.stdin.isTTY) throw new UsageError('tslab start is interactive and needs a terminal; add --yes to run a lesson headless');
      const { withNotebook } = await import('../lab/lifecycle.js');
      return await withNotebook((notebook) => notebook.run(), { source, lesson: rest[0], yes, write });
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
      return await (await import('../lab/check-lesson.js')).checkLesson(rest[0], source, write);
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
    case 'reset': {
      const forgetProgress = args.flags.has('progress');
      if (rest[0] && !forgetProgress) {
        throw new UsageError(`reset undoes host changes and keeps progress; to forget lesson ${rest[0]}'s progress: tslab reset --progress ${rest[0]}`);
      }
      (await import('../lab/lifecycle.js')).resetLab(rest[0], forgetProgress, write);
      return 0;
    }
    case 'demo': {
      if (!rest[0]) throw new UsageError('demo needs a lesson: tslab demo LESSON [--auto SECONDS]');
      const auto = flagString(args, 'auto');
      if (auto !== undefined && !(Number(auto) >= 0)) throw new UsageError(`--auto needs a number of seconds, not "${auto}"`);
      const { runDemo } = await import('../lab/demo.js');
      const { withNotebook } = await import('../lab/lifecycle.js');
      return await withNotebook((notebook) => runDemo({ lesson: rest[0], autoSeconds: auto === undefined ? undefined : Number(auto), write }, notebook), {
        source: 'reference',
        yes: true,
        write,
      });
    }

    case 'bundle': {
      if (!rest[0]) throw new UsageError('bundle needs a directory: tslab bundle DIR');
      const { BundleExistsError, writeBundle } = await import('../lab/bundle.js');
      try {
        const target = writeBundle(rest[0], rest.slice(1));
        write(`bundle ready: ${target}\n  cd ${target} && tslab-runtime run demo\n`);
      } catch (err) {
        throw err instanceof BundleExistsError ? new UsageError(err.message) : err;
      }
      return 0;
    }
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
