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

function swapSteps(mineSteps: ReadonlySet<string>, sandbox: string): Plugin {
  return {
    name: 'tslab-sandbox-steps',
    setup(b) {
      // sandbox/syscalls.ts re-exports the syscall layer by a relative path; a sandbox kept elsewhere
      // (TSLAB_SANDBOX) still means this checkout's.
      b.onResolve({ filter: /(^|\/)src\/linux\/index\.js$/ }, (args) =>
        path.resolve(args.resolveDir).startsWith(sandbox) ? { path: path.join(projectRoot(), 'src', 'linux', 'index.ts') } : undefined,
      );
      b.onResolve({ filter: /\/steps\/[a-z0-9-]+\.js$/ }, (args) => {
        const resolved = path.resolve(args.resolveDir, args.path);
        if (path.dirname(resolved) !== stepsDir()) return undefined;
        const file = path.basename(resolved).replace(/\.js$/, '.ts');
        return mineSteps.has(file) ? { path: path.join(sandbox, 'steps', file) } : undefined;
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
      plugins: [swapSteps(new Set(sorted), sandbox)],
      logLevel: 'silent',
    });
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    const errors = (err as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors ?? [];
    const detail = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('\n  ');
    throw new SandboxBuildError(`your sandbox code does not compile:\n  ${detail || (err as Error).message}`);
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
