// Lesson 10: the capstone. Runs the project's lifecycle suite (`npx vitest run --project lifecycle:tslab`,
// the suite runc passes too) with TSLAB_TEST_RUNTIME_BIN pointing at the learner's runtime, and passes when
// vitest exits 0: every test passed and the suite's own leak check found nothing left behind. The counts and
// the first failing tests come from vitest's JSON report. The run is bounded; on timeout the whole process
// group vitest started is ended (TERM, then KILL).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCatalog } from '../catalog.js';
import { projectRoot } from '../paths.js';
import { errorText, fail, makeBundle, readText, verdict } from './common.js';
import { likelyPiece, pieceName, type Failure } from './suspects.js';
import { SuiteProgress, pieceSummary } from '../suite-progress.js';
import type { LessonCheck } from './types.js';

const TIMEOUT_MS = 6 * 60_000;

interface JsonReport {
  numTotalTests?: number;
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults?: Array<{
    name?: string;
    message?: string;
    assertionResults?: Array<{ fullName?: string; title?: string; status?: string; failureMessages?: string[] }>;
  }>;
}

interface VitestRun {
  code: number | null;
  timedOut: boolean;
  output: string;
}

/**
 * The whole suite, unless TSLAB_CAPSTONE_FILES names some of its files. The project's own CI sets it for the
 * reference run: its lifecycle:tslab project has already run every file against that very runtime.
 */
function suiteFiles(): string[] {
  return (process.env.TSLAB_CAPSTONE_FILES ?? '').split(/\s+/).filter(Boolean);
}

function runVitest(root: string, runtimePath: string, reportFile: string, onLine?: (line: string) => void): Promise<VitestRun> {
  return new Promise((resolve) => {
    const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const child = spawn(
      process.execPath,
      [vitest, 'run', '--project', 'lifecycle:tslab', '--reporter=json', `--outputFile.json=${reportFile}`, '--reporter=default', ...suiteFiles()],
      {
        cwd: root,
        env: { ...process.env, TSLAB_TEST_RUNTIME_BIN: runtimePath, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so a timeout can end vitest and its workers together.
        detached: true,
      },
    );
    let output = '';
    let partial = '';
    const keep = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output = (output + text).slice(-20_000);
      // The default reporter's lines, whole, for the progress display (one per finished file).
      const lines = (partial + text).split('\n');
      partial = lines.pop()!.slice(-1000);
      for (const line of lines) onLine?.(line);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let timedOut = false;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      setTimeout(() => signalGroup('SIGKILL'), 10_000).unref();
    }, TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, timedOut, output: `${output}${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, output });
    });
  });
}

const SCRATCH_PREFIX = 'tslab-check10-';

/** Removes the report directories of earlier runs whose lab process was killed midway (owner pid gone). */
function removeStaleRuns(): void {
  for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(SCRATCH_PREFIX))) {
    const dir = path.join(os.tmpdir(), name);
    const owner = Number(readText(path.join(dir, 'owner')));
    if (Number.isInteger(owner) && owner > 0 && !fs.existsSync(`/proc/${owner}`)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One container first (`run` of `true` in a busybox bundle): a runtime that cannot start any container would
 * fail every test of the suite, slowly. Returns the runtime's error, or undefined when the container ran.
 */
function firstContainerError(runtimePath: string, scratch: string): string | undefined {
  const bundle = path.join(scratch, 'bundle');
  makeBundle(bundle, ['true']);
  const root = path.join(scratch, 'state');
  const run = spawnSync(runtimePath, ['--root', root, 'run', '--bundle', bundle, `tslab-check10-${process.pid}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status === 0) return undefined;
  // A failed run may leave its container: the reference runtime removes it whatever the learner's did.
  spawnSync(path.join(projectRoot(), 'bin', 'tslab-runtime.cjs'), ['--root', root, 'delete', '--force', `tslab-check10-${process.pid}`], { stdio: 'ignore' });
  return (run.stderr || run.error?.message || `exit status ${run.status}`).trim();
}

/** "Most likely: lesson N's fn() in sandbox/steps/F (why). " or nothing when no piece stands out. */
function suspectSentence(failures: Failure[]): string {
  const suspect = likelyPiece(failures, loadCatalog());
  if (!suspect) return '';
  const n = suspect.lesson.number;
  return `most likely: ${pieceName(suspect.lesson)}, as ${suspect.why}. \`tslab check ${n}\` tests that piece alone, \`tslab solution ${n}\` shows the reference. `;
}

/** Each failed test of the report, named by its file (relative to `root`) and title, with its messages. */
function failuresOf(report: JsonReport, root: string): Failure[] {
  return (report.testResults ?? []).flatMap((file) => {
    const where = path.relative(root, file.name ?? '?');
    const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    // A file that failed to load has no test results, only a message.
    if (!tests.length && file.message) return [{ test: `${where}: ${file.message.split('\n')[0]}`, message: file.message }];
    return tests.map((t) => ({ test: `${where}: ${t.fullName ?? t.title ?? '?'}`, message: (t.failureMessages ?? []).join('\n') }));
  });
}

/**
 * What the capstone needs beyond the lab itself: the lifecycle suite's files and vitest, a devDependency (an
 * install with `npm ci --omit=dev` has the lab but not these). A failed item naming what is missing, or undefined.
 */
function suiteNotInstalled(root: string) {
  const missing = [path.join('node_modules', 'vitest', 'vitest.mjs'), path.join('test', 'lifecycle')].filter((p) => !fs.existsSync(path.join(root, p)));
  if (!missing.length) return undefined;
  return fail(
    'the lifecycle suite and vitest are installed',
    `missing: ${missing.map((p) => path.join(root, p)).join(', ')}`,
    'test/lifecycle/ and node_modules/vitest',
    `the capstone runs the project's lifecycle suite with vitest, a devDependency: in a clone of the repository run \`npm ci\` (not --omit=dev) in ${root}`,
  );
}

export const check: LessonCheck = async (ctx) => {
  const root = projectRoot();
  const notInstalled = suiteNotInstalled(root);
  if (notInstalled) return [notInstalled];
  removeStaleRuns();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), SCRATCH_PREFIX));
  fs.writeFileSync(path.join(scratch, 'owner'), String(process.pid));
  const reportFile = path.join(scratch, 'report.json');
  try {
    const firstError = firstContainerError(ctx.runtimePath, scratch);
    if (firstError !== undefined) {
      return [
        fail(
          'your runtime runs a first container (run of `true` in a busybox bundle) before the suite',
          firstError,
          'exit status 0',
          `${suspectSentence([{ test: 'a first container (run of true)', message: firstError }])}the message names the piece that failed; \`tslab lessons\` shows which pieces are still to write`,
        ),
      ];
    }
    const started = Date.now();
    const progress = new SuiteProgress(root, suiteFiles());
    ctx.progress?.('the lifecycle suite against your runtime, file by file (a few minutes):');
    const run = await runVitest(root, ctx.runtimePath, reportFile, (line) => {
      const shown = progress.line(line);
      if (shown) ctx.progress?.(shown);
    });
    const seconds = Math.round((Date.now() - started) / 1000);
    let report: JsonReport | undefined;
    try {
      report = JSON.parse(readText(reportFile) ?? '') as JsonReport;
    } catch {
      report = undefined;
    }
    const command = `TSLAB_TEST_RUNTIME_BIN=${ctx.runtimePath} npx vitest run --project lifecycle:tslab`;
    if (!report) {
      const tail = run.output.trim().split('\n').slice(-3).join(' / ');
      return [
        fail(
          'the lifecycle suite runs against your runtime',
          run.timedOut ? `no result after ${TIMEOUT_MS / 60_000} minutes` : `vitest exit status ${run.code}, no report: ${tail}`,
          'a finished run',
          `run it yourself from ${root}: ${command}`,
        ),
      ];
    }
    const failures = failuresOf(report, root);
    const failed = failures.map((f) => f.test);
    for (const line of pieceSummary(failures, loadCatalog())) ctx.progress?.(line);
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    const counts = `${report.numPassedTests ?? 0} passed, ${report.numFailedTests ?? 0} failed, ${skipped} skipped of ${report.numTotalTests ?? 0} (${seconds} s)`;
    const leaked = /the run leaked[^\n]*\n((?:\s+\S.*\n?)*)/.exec(run.output)?.[1]?.trim().split('\n').slice(0, 4).map((l) => l.trim());
    const shownFailures = failed.slice(0, 5).join('; ') + (failed.length > 5 ? `; and ${failed.length - 5} more` : '');
    return [
      verdict(
        'the lifecycle suite passes against your runtime',
        run.code === 0 && !run.timedOut,
        [
          counts,
          run.timedOut ? `stopped after ${TIMEOUT_MS / 60_000} minutes` : `vitest exit status ${run.code}`,
          failed.length ? `failing: ${shownFailures}` : '',
          leaked?.length ? `left behind: ${leaked.join('; ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
        'vitest exit status 0: every test passed and nothing leaked',
        failed.length
          ? `${suspectSentence(failures)}run one failing file alone, from ${root}: TSLAB_TEST_RUNTIME_BIN=${ctx.runtimePath} npx vitest run --project lifecycle:tslab test/lifecycle/<file>; its message shows the runtime's command line and stderr`
          : `every test passed but vitest did not exit 0 (a leak or a crash of the run): run ${command} from ${root} and read its end`,
      ),
    ];
  } catch (err) {
    return [fail('the lifecycle suite runs against your runtime', errorText(err), 'a finished run', 'run the suite yourself: npx vitest run --project lifecycle:tslab')];
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
};
