// Builds the runtime and the lesson container launcher with some kernel steps taken from the learner's
// sandbox instead of src/runtime/steps/: an esbuild plugin swaps each chosen step file for the sandbox file
// of the same name. The learner never runs a build by hand; a build is cached by the content it was made of.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { projectRoot, sandboxDir } from './paths.js';

const ENTRY_POINTS = ['src/cli/runtime.ts', 'src/runtime/init/stage.ts', 'src/runtime/exec/stage.ts', 'src/lab/container/launcher.ts', 'src/lab/container/probe.ts'];

export interface StepBuild {
  /** Directory laid out like dist/: cli/runtime.cjs, runtime/init/stage.cjs, runtime/exec/stage.cjs, lab/container/launcher.cjs. */
  dir: string;
  mineSteps: string[];
}

export class SandboxBuildError extends Error {}

function stepsDir(): string {
  return path.join(projectRoot(), 'src', 'runtime', 'steps');
}

/** True when `file` is `dir` or inside it (a plain prefix would also match a sibling such as `sandbox2`). */
function isWithin(file: string, dir: string): boolean {
  return file === dir || file.startsWith(`${dir}${path.sep}`);
}

/**
 * Swaps each of `mineSteps` for the sandbox's file and records it in `swapped`. esbuild resolves symlinks, so
 * it names every importer by its real path: a checkout or a sandbox reached through a symlink is compared by
 * its real path too (compared as given, the steps of a symlinked checkout were never swapped, and the
 * reference passed for the learner's code).
 */
function swapSteps(mineSteps: ReadonlySet<string>, sandbox: string, swapped: Set<string>): Plugin {
  const realSteps = fs.realpathSync(stepsDir());
  const realSandbox = fs.realpathSync(sandbox);
  return {
    name: 'tslab-sandbox-steps',
    setup(b) {
      // sandbox/syscalls.ts re-exports the syscall layer by a relative path; a sandbox kept elsewhere
      // (TSLAB_SANDBOX) still means this checkout's.
      b.onResolve({ filter: /(^|\/)src\/linux\/index\.js$/ }, (args) =>
        isWithin(path.resolve(args.resolveDir), realSandbox) ? { path: path.join(projectRoot(), 'src', 'linux', 'index.ts') } : undefined,
      );
      b.onResolve({ filter: /\/steps\/[a-z0-9-]+\.js$/ }, (args) => {
        const resolved = path.resolve(args.resolveDir, args.path);
        if (path.dirname(resolved) !== realSteps) return undefined;
        const file = path.basename(resolved).replace(/\.js$/, '.ts');
        if (!mineSteps.has(file)) return undefined;
        swapped.add(file);
        return { path: path.join(realSandbox, 'steps', file) };
      });
    },
  };
}

function contentKey(mineSteps: string[], sandbox: string): string {
  const hash = createHash('sha256');
  const root = projectRoot();
  // A rebuilt tslab (new sources) invalidates every learner build.
  hash.update(String(fs.statSync(path.join(root, 'dist', 'cli', 'tslab.cjs')).mtimeMs));
  for (const file of [...mineSteps.map((s) => path.join('steps', s)), 'syscalls.ts', 'lab-support.ts']) {
    hash.update(file);
    hash.update(fs.readFileSync(path.join(sandbox, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The executable tslab-runtime of a build. */
export function runtimeExecutable(b: StepBuild): string {
  return b.mineSteps.length ? path.join(b.dir, 'tslab-runtime.cjs') : path.join(projectRoot(), 'bin', 'tslab-runtime.cjs');
}

/** The reference build made by `npm run build`. */
export function referenceBuild(): StepBuild {
  return { dir: path.join(projectRoot(), 'dist'), mineSteps: [] };
}

/** Builds (or reuses) the runtime and launcher with the given steps from the sandbox. */
export async function buildWithSteps(mineSteps: string[]): Promise<StepBuild> {
  if (!mineSteps.length) return referenceBuild();
  const root = projectRoot();
  const sandbox = sandboxDir();
  for (const step of mineSteps) {
    if (!fs.existsSync(path.join(sandbox, 'steps', step))) throw new SandboxBuildError(`the sandbox has no steps/${step} (looked in ${sandbox})`);
  }
  const sorted = [...mineSteps].sort();
  // Inside dist/ so that the bundles find koffi in the project's node_modules.
  const dir = path.join(root, 'dist', 'mine', contentKey(sorted, sandbox));
  if (fs.existsSync(path.join(dir, 'complete'))) return { dir, mineSteps: sorted };
  const staging = `${dir}.tmp-${process.pid}`;
  const swapped = new Set<string>();
  try {
    await build({
      absWorkingDir: root,
      entryPoints: ENTRY_POINTS,
      outbase: 'src',
      outdir: staging,
      outExtension: { '.js': '.cjs' },
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      external: ['koffi'],
      define: { 'import.meta.url': '__importMetaUrl' },
      banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
      plugins: [swapSteps(new Set(sorted), sandbox, swapped)],
      logLevel: 'silent',
    });
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    const errors = (err as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors ?? [];
    const detail = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('\n  ');
    throw new SandboxBuildError(`your sandbox code does not compile:\n  ${detail || (err as Error).message}`);
  }
  // A step no entry point imported from src/runtime/steps/ would be checked as the reference wrote it.
  const notSwapped = sorted.filter((step) => !swapped.has(step));
  if (notSwapped.length) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw new Error(`the build did not take ${notSwapped.map((s) => `steps/${s}`).join(', ')} from your sandbox (${sandbox}): this is a bug in tslab`);
  }
  // An executable that speaks runc's command line, as bin/tslab-runtime.cjs does for the reference build.
  const wrapper = path.join(staging, 'tslab-runtime.cjs');
  fs.writeFileSync(
    wrapper,
    "#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node\nrequire('./cli/runtime.cjs').main(process.argv.slice(2)).then((status) => process.exit(status));\n",
  );
  fs.chmodSync(wrapper, 0o755);
  fs.writeFileSync(path.join(staging, 'complete'), '');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(staging, dir);
  return { dir, mineSteps: sorted };
}
