// Build: type-check with tsc, then bundle each executable into one CommonJS file with esbuild. A container
// start pays for two Node start-ups (the CLI and the PID-1 stage): measured here, a single CommonJS file
// starts about 30 ms sooner than the same code as ES modules split into chunks.
// The bundles are written next to dist/ and swapped in whole: tests running meanwhile keep seeing a complete
// dist/ (the old one or the new one), never an empty or half-written one.
//
// `node build.mjs --if-changed` (npm test) does nothing when dist/ was built from these very inputs: `npm ci` has
// just built them (its prepare script), and type-checking twice cost CI ~8 s before the first test. The inputs
// are named by their contents (a SHA-256 over every file's path and bytes), not their times.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import koffi from 'koffi';

/** What the build reads: its own code, the pinned dependencies, the compiler settings, the sources and the sandbox. */
const INPUTS = ['build.mjs', 'package-lock.json', 'tsconfig.json', 'src', 'sandbox'];
const DIGEST_FILE = '.inputs-sha256';

/**
 * Never follows a link (a symlink cycle in the learner's sandbox would never end): a link counts by its target's
 * name, a regular file by its bytes, anything else (a FIFO would block a read) by its kind.
 */
function inputsDigest() {
  const hash = createHash('sha256');
  const add = (name) => {
    let stat;
    try {
      stat = lstatSync(name);
    } catch {
      return hash.update(`${name}\0missing\0`);
    }
    if (stat.isDirectory()) for (const entry of readdirSync(name).sort()) add(join(name, entry));
    else if (stat.isSymbolicLink()) hash.update(`${name}\0link\0${readlinkSync(name)}\0`);
    else if (stat.isFile()) hash.update(`${name}\0file\0`).update(readFileSync(name)).update('\0');
    else hash.update(`${name}\0other ${stat.mode}\0`);
  };
  for (const name of INPUTS) add(name);
  return hash.digest('hex');
}

const digest = inputsDigest();
if (process.argv.includes('--if-changed') && existsSync(join('dist', DIGEST_FILE)) && readFileSync(join('dist', DIGEST_FILE), 'utf8') === digest) {
  console.log('dist/ is up to date: built from these very sources');
  process.exit(0);
}

/** tsc on one project; resolves to its exit status. */
function typeCheck(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
    child.on('error', () => resolve(1));
    child.on('close', (code) => resolve(code ?? 1));
  });
}

// Side by side: tsc is single-threaded, and the sources (5 s here) and the sandbox (2 s) are checked apart.
const statuses = await Promise.all(['tsconfig.json', 'sandbox/tsconfig.json'].map(typeCheck));
if (statuses.some((status) => status !== 0)) process.exit(1);
const staging = `dist.building-${process.pid}`;
rmSync(staging, { recursive: true, force: true });

// tslab's command families are bundles of their own, required by dist/cli/tslab.cjs on demand: the lab's
// Markdown renderer and prompts weigh ~2 MB that `tslab run` would otherwise parse at every start.
const COMMAND_FAMILIES = ['./engine-commands.js', './lab-commands.js'];
const commandFamiliesApart = {
  name: 'command-families-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/(engine|lab)-commands\.js$/ }, (args) =>
      args.importer.endsWith('src/cli/tslab.ts') && COMMAND_FAMILIES.includes(args.path) ? { path: args.path.replace(/\.js$/, '.cjs'), external: true } : undefined,
    );
  },
};

// marked-terminal highlights code through cli-highlight, which loads highlight.js with its ~190 grammars:
// ~1.4 MB of the lab's bundle, and ~70 ms of CPU at every `tslab` lab command's start, even `tslab check`,
// which renders no Markdown (measured: `tslab lessons` 239 -> 171 ms). The lessons' prose has fences in TypeScript, JSON and shell, and fences with no
// language (then highlight.js guesses among the grammars it has: these few guess better than all of them).
const HIGHLIGHT_GRAMMARS = ['bash', 'typescript', 'javascript', 'json', 'plaintext'];
const fewHighlightGrammars = {
  name: 'few-highlight-grammars',
  setup(b) {
    b.onResolve({ filter: /^highlight\.js$/ }, (args) => (args.importer.includes('cli-highlight') ? { path: 'highlight.js', namespace: 'few-grammars' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'few-grammars' }, () => ({
      contents: [
        "const hljs = require('highlight.js/lib/core');",
        ...HIGHLIGHT_GRAMMARS.map((g) => `hljs.registerLanguage('${g}', require('highlight.js/lib/languages/${g}'));`),
        'module.exports = hljs;',
      ].join('\n'),
      resolveDir: process.cwd(),
      loader: 'js',
    }));
  },
};

// marked-terminal's emoji option turns `:name:` into an emoji; the lessons quote kernel formats full of colons
// (`hierarchy:controllers:path`, `lowerdir=3:2:1`), so src/lab/render.ts turns it off. node-emoji would still
// load its ~2,000 names at every lab command's start (`tslab lessons` 171 -> 147 ms of CPU): it becomes a
// lookup that finds nothing.
const noEmojiNames = {
  name: 'no-emoji-names',
  setup(b) {
    b.onResolve({ filter: /^node-emoji$/ }, (args) => (args.importer.includes('marked-terminal') ? { path: 'node-emoji', namespace: 'no-emoji' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'no-emoji' }, () => ({ contents: 'export function get() { return undefined; }', loader: 'js' }));
  },
};

await build({
  entryPoints: [
    'src/cli/runtime.ts',
    'src/cli/tslab.ts',
    'src/cli/engine-commands.ts',
    'src/cli/lab-commands.ts',
    'src/runtime/init/stage.ts',
    // exec's stage, which joins a running container and execs the process there.
    'src/runtime/exec/stage.ts',
    // The lab's way into its lesson container (container cells, tslab shell): exec's path, named by pid.
    'src/runtime/exec/enter.ts',
    // The lab's helper programs; src/lab/step-build.ts builds them again with the learner's steps.
    'src/lab/container/launcher.ts',
    'src/lab/container/probe.ts',
    // `tslab run -d`'s container monitor and `-p`'s port proxy.
    'src/engine/monitor-main.ts',
    'src/net/port-proxy-main.ts',
  ],
  outbase: 'src',
  outdir: staging,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['koffi', 'esbuild'],
  // The sources are ES modules; in a CommonJS bundle import.meta.url comes from __filename.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [commandFamiliesApart, fewHighlightGrammars, noEmojiNames],
  // require() rather than import() for the families: CommonJS loads without starting the ES module loader.
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
}).catch((err) => {
  rmSync(staging, { recursive: true, force: true });
  throw err;
});

writeFileSync(join(staging, DIGEST_FILE), digest);

// rename(2) cannot replace a non-empty directory; renameat2's RENAME_EXCHANGE swaps the two names in one step.
if (existsSync('dist')) {
  const renameat2 = koffi.load('libc.so.6').func('int renameat2(int, const char *, int, const char *, unsigned int)');
  const AT_FDCWD = -100;
  const RENAME_EXCHANGE = 2;
  if (renameat2(AT_FDCWD, staging, AT_FDCWD, 'dist', RENAME_EXCHANGE) !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`renameat2(${staging}, dist, RENAME_EXCHANGE) failed: errno ${koffi.errno()}`);
  }
  // The previous build, now under the staging name.
  rmSync(staging, { recursive: true, force: true });
} else {
  renameSync(staging, 'dist');
}
